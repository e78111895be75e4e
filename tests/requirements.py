"""Cada requisito del enunciado de un ejercicio, con la celda de pruebas que lo comprueba y el error
típico que solo lo rompe a él.

Por laboratorio, ``REQUIREMENTS`` es una lista de ``(fragmento, celda, error)``:

- ``fragmento``: texto literal del enunciado (sin contar espacios y saltos de línea);
- ``celda``: el ``grade_id`` de la celda de pruebas que lo comprueba;
- ``error``: el nombre de una entrega del módulo de pruebas del laboratorio (``BUGS`` de su clase
  de pruebas) que rompe ese requisito: pierde exactamente sus celdas, entre ellas ``celda``.

``CONTEXT`` enumera, por laboratorio, fragmentos de los párrafos del enunciado que no piden nada
(explican o remiten a otra parte). ``tests/test_requirements.py`` parte el enunciado en párrafos y
puntos de lista y falla si alguno no tiene ni requisito ni contexto: un requisito nuevo del
enunciado necesita su prueba y su error típico.
"""

from __future__ import annotations

# laboratorio -> módulo de sus pruebas de calificación
MODULES = {
    "01_tensores": "tests.test_lab01_tensores",
    "02_modulos": "tests.test_lab02_modulos",
    "03_entrenamiento": "tests.test_lab03_entrenamiento",
    "04_perdidas": "tests.test_lab04_perdidas",
    "05_optimizadores": "tests.test_lab05_optimizadores",
}

REQUIREMENTS = {
    "01_tensores": [
        ("`torch.softmax`, `torch.log_softmax`, `Tensor.softmax`", "test_softmax", "softmax_prohibida"),
        ("`Tensor.log_softmax`", "test_cross_entropy", "ce_log_softmax_del_tensor"),
        ("Está prohibido usar `torch.nn`, `torch.optim`", "test_sgd_step", "sgd_con_optim"),
        ("calculadas **por filas** (cada fila suma 1)", "test_softmax", "softmax_dim0"),
        ("sin NaN ni infinitos aunque haya logits de ±1000", "test_softmax", "softmax_ingenua"),
        ("la entropía cruzada **media** del lote", "test_cross_entropy", "ce_suma"),
        ("como tensor escalar (forma `()`)", "test_cross_entropy", "ce_forma_1"),
        ("con logaritmo natural", "test_cross_entropy", "ce_log2"),
        ("numéricamente estable (log-sum-exp)", "test_cross_entropy", "ce_inestable"),
        ("derivable con autograd", "test_cross_entropy", "ce_sin_grafo"),
        ("la fracción de ejemplos cuya clase de mayor puntuación es la correcta", "test_accuracy",
         "accuracy_eje_erroneo"),
        ("como `float` de Python en [0, 1]", "test_accuracy", "accuracy_tensor"),
        ("Actualiza cada parámetro **en el lugar**", "test_sgd_step", "sgd_fuera_de_lugar"),
        ("sin registrar la operación en el grafo", "test_sgd_step", "sgd_sin_no_grad"),
        ("borra su gradiente (`p.grad = None`)", "test_sgd_step", "sin_borrar_gradientes"),
        ("Ignora los parámetros cuyo `.grad` sea `None`", "test_sgd_step", "sgd_grad_none_falla"),
    ],
    "02_modulos": [
        ("salvo las capas perezosas (`nn.Lazy*`)", "test_registro_parametros", "lineal_perezosa"),
        ("devuelve *logits* `float32` de forma (N, 10)", "test_forma_salida", "flatten_fijo"),
        ("un **bloque**, en este orden", "test_registro_parametros", "relu_antes_de_batchnorm"),
        ("(con sesgo;", "test_registro_parametros", "conv_sin_sesgo"),
        ("(**no** en una lista de Python)", "test_registro_parametros", "lista_python"),
        ("*dropout* con probabilidad `dropout`", "test_dropout_modos", "dropout_fijo"),
        ("**se calcula** en `__init__`", "test_forma_salida", "flatten_fijo"),
        ("El *dropout* actúa solo en modo entrenamiento", "test_dropout_modos", "dropout_en_eval"),
        ("No añadas otras capas", "test_registro_parametros", "capa_de_mas"),
        ("devuelve un `int` de Python", "test_count_parameters", "cuenta_tensor"),
        ("los congelados y los búferes no cuentan", "test_count_parameters", "cuenta_congelados"),
        ("los congelados y los búferes no cuentan", "test_count_parameters", "cuenta_buferes"),
        ('mode="fan_in"', "test_init_weights", "init_fan_out"),
        ("su sesgo, si lo tiene, a cero", "test_init_weights", "init_sesgo_sin_comprobar"),
        ("queda **intacto**", "test_init_weights", "init_toca_batchnorm"),
    ],
    "03_entrenamiento": [
        ("ninguna de las funciones crea optimizadores", "test_train_one_epoch", "optimizador_propio"),
        ("**`train_one_epoch(model, loader, loss_fn, optimizer, device)`**", "test_train_one_epoch",
         "train_argumentos_en_otro_orden"),
        ("Pone el modelo en modo entrenamiento (`model.train()`)", "test_train_one_epoch", "sin_model_train"),
        ("Mueve cada lote con `x, y = x.to(device), y.to(device)`", "test_dispositivo", "datos_sin_mover"),
        ("borrar gradientes, `loss_fn(model(x), y)`, `backward()` y `optimizer.step()`", "test_train_one_epoch",
         "sin_zero_grad"),
        ("borrar gradientes, `loss_fn(model(x), y)`, `backward()` y `optimizer.step()`", "test_train_one_epoch",
         "zero_grad_tras_backward"),
        ("Devuelve la **pérdida media por ejemplo** de la época", "test_train_one_epoch_perdida", "media_de_medias"),
        ("como `float` de Python", "test_train_one_epoch_perdida", "perdida_devuelta_como_tensor"),
        ("Acumula números (`loss.item()`), no tensores", "test_train_one_epoch_perdida", "perdida_como_tensor"),
        ("**`evaluate(model, loader, loss_fn, device)`**", "test_evaluate", "evaluate_argumentos_en_otro_orden"),
        ("Pone el modelo en modo evaluación (`model.eval()`)", "test_evaluate_modo", "evaluate_sin_eval"),
        ("no construye el grafo (`torch.no_grad()` o `torch.inference_mode()`)", "test_evaluate_modo",
         "evaluate_con_gradientes"),
        ("No modifica los pesos", "test_evaluate_modo", "evaluate_sin_eval"),
        ("Mueve cada lote a `device` con `.to(device)`", "test_dispositivo", "datos_sin_mover"),
        ("la pérdida media por ejemplo (ponderada como arriba)", "test_evaluate", "media_de_medias"),
        ("dos `float` de Python", "test_evaluate", "exactitud_como_tensor"),
        ("`fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device, patience=None)`",
         "test_fit_historial", "paciencia_por_defecto"),
        ("después a **tu** `evaluate` con `val_loader`", "test_fit_historial", "valida_con_train_loader"),
        ('un `dict` con exactamente las claves `"train_loss"`, `"val_loss"` y `"val_acc"`', "test_fit_historial",
         "historial_con_clave_de_mas"),
        ("Con `patience=None`, ejecuta las `epochs` épocas y deja el modelo con los pesos de la última",
         "test_fit_historial", "paciencia_por_defecto"),
        ("estrictamente menor que la mejor anterior", "test_fit_parada_temprana", "empate_cuenta_como_mejora"),
        ("Si pasan `patience` épocas seguidas sin mejorar, `fit` se detiene sin ejecutar más épocas",
         "test_fit_parada_temprana", "paciencia_mas_uno"),
        ("Al terminar (se haya detenido o no), el modelo recupera los pesos de la mejor época",
         "test_fit_parada_temprana", "restaura_solo_al_parar"),
        ("guardados con `copy.deepcopy(model.state_dict())`", "test_fit_parada_temprana", "parada_guarda_ultimos"),
        ("por eso `fit` debe llamarlas por su nombre", "test_fit_historial", "ataque_alias"),
    ],
    "04_perdidas": [
        ("**solo con operaciones de tensores**", "test_cross_entropy", "cross_entropy_prohibida"),
        ("Está **prohibido** usar `torch.nn` y `torch.nn.functional` (ni `nn`, ni `F`)", "test_mse",
         "ataque_alias_modulo"),
        ("`softmax`/`log_softmax` en cualquiera de sus formas", "test_cross_entropy", "log_softmax_del_tensor"),
        ("Cada función debe ser derivable con autograd", "test_mae", "mae_sin_grafo"),
        ('`"mean"` (por defecto)', "test_mse", "mse_por_defecto_suma"),
        ("devuelven un tensor escalar (forma `()`)", "test_mae", "mae_forma_1"),
        ('`"none"` devuelve las pérdidas sin reducir', "test_mse", "mse_none_aplanado"),
        ("Con cualquier otro valor lanza `ValueError`", "test_reduce_loss", "reduccion_desconocida_es_media"),
        ('con `"none"`, la misma forma', "test_mse", "mse_none_aplanado"),
        ("error absoluto medio, como `nn.L1Loss`", "test_mae", "mae_sin_grafo"),
        ("error de sesgo medio, **con signo**", "test_mbe", "mbe_con_valor_absoluto"),
        ("la reducción de `target - input`", "test_mbe", "mbe_input_menos_target"),
        ("como `nn.HuberLoss(delta=delta)`", "test_huber", "huber_delta_fijo"),
        ("como `nn.MultiMarginLoss(margin=margin)`", "test_hinge_multiclass", "bisagra_margen_fijo"),
        (r"$\frac1C\sum_{j\ne y}\max(0, \text{margin} - s_y + s_j)$", "test_hinge_multiclass",
         "bisagra_con_clase_correcta"),
        ('con `"none"`, forma (N,)', "test_hinge_multiclass", "bisagra_none_n_por_1"),
        ("`nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)`", "test_cross_entropy_weight",
         "media_ponderada_entre_n"),
        ("Logaritmo **natural**", "test_cross_entropy", "log2_en_lugar_de_ln"),
        ("sin NaN ni infinitos con logits de ±1000", "test_cross_entropy", "log_softmax_ingenua"),
        (r"\frac{\varepsilon}{C}\sum_{k} w_k \ln p_{i,k}", "test_cross_entropy_smoothing", "suavizado_sin_pesos"),
        (r"- \frac{\varepsilon}{C}", "test_cross_entropy_smoothing", "suavizado_entre_c_menos_1"),
        (r'`"mean"` divide la suma entre $\sum_i w_{y_i}$', "test_cross_entropy_weight", "media_ponderada_entre_n"),
    ],
    "05_optimizadores": [
        ("está **prohibido** delegar en los optimizadores de PyTorch", "test_sgd", "ataque_alias_modulo"),
        ("decaimiento L2 sumado al gradiente", "test_sgd", "sgd_sin_decaimiento"),
        ("búfer de momento inicializado con el **primer gradiente**", "test_sgd_momentum", "buffer_momento_a_cero"),
        ('guardado en `self.state[p]["momentum_buffer"]`', "test_sgd_grupos_estado", "buffer_con_otro_nombre"),
        ("amortiguación $(1-\\tau)$ a partir del segundo paso", "test_sgd_momentum", "buffer_momento_a_cero"),
        ("con `nesterov=True`, la dirección $g_t + \\mu b_t$", "test_sgd_nesterov", "nesterov_sin_anticipacion"),
        ("decaimiento **desacoplado**", "test_adamw_weight_decay", "adamw_con_l2"),
        ("momentos con corrección del sesgo", "test_adamw", "sin_correccion_sesgo"),
        ("$\\varepsilon$ sumado **después** de la raíz", "test_adamw", "eps_dentro_de_la_raiz"),
        ('`"step"` (número de actualizaciones **de ese parámetro**', "test_adamw_grupos_estado", "paso_global_adamw"),
        ("leer las opciones de cada grupo en `step`", "test_adamw_grupos_estado", "ignora_grupos"),
        ("saltar los parámetros sin gradiente", "test_adamw_grupos_estado", "sin_gradiente_como_cero"),
        ("guardar todo su estado en `self.state`", "test_adamw_grupos_estado", "paso_global_adamw"),
        ("sin registrar la operación en el grafo (`torch.no_grad()`)", "test_sgd", "sin_no_grad"),
        ("pensado para llamarse **una vez por lote**", "test_train_one_epoch", "planificador_antes_del_optimizador"),
        ("$W = \\max(1, \\lfloor T/10 \\rfloor)$", "test_make_scheduler", "calentamiento_redondeado"),
        ("0.1 + 0.9\\,\\dfrac{t}{W}", "test_make_scheduler", "calentamiento_desde_cero"),
        ("un paso del planificador **después**", "test_train_one_epoch", "planificador_antes_del_optimizador"),
        ("Pon el modelo en modo entrenamiento", "test_train_one_epoch", "sin_model_train"),
        ("la suma de las pérdidas de todos los ejemplos dividida entre el número de ejemplos", "test_train_one_epoch",
         "media_de_medias"),
        ("si tus clases, o cualquier celda que añadas o cambies, usan los optimizadores de PyTorch", "test_sgd",
         "ataque_gancho"),
    ],
}

CONTEXT = {
    "01_tensores": [
        "Las celdas de pruebas que siguen a tus respuestas tienen una parte visible",
        "Esta celda (no calificada) entrena la regresión softmax",
    ],
    "02_modulos": [
        "Las celdas de pruebas tienen una parte visible",
        "Esta celda (no calificada) inicializa tu red",
    ],
    "03_entrenamiento": [
        "Las celdas de pruebas tienen una parte visible, para que compruebes tu trabajo",
        "Entrena el MLP dos épocas con tus funciones",
    ],
    "04_perdidas": [
        "Las celdas de pruebas que siguen tienen una parte visible",
        "Esta celda (no calificada) entrena el mismo MLP",
    ],
    "05_optimizadores": [
        "Las dos clases deben:",
        "Por ejemplo, con `epochs=2, steps_per_epoch=10`",
        "Las pruebas ocultas comparan tus optimizadores con `torch.optim.SGD`",
        "Esta celda (no calificada) entrena la red de la sección 7",
        "Cada celda comprueba una parte.",
    ],
}
