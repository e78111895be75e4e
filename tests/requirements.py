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
    "04_perdidas": "tests.test_lab04_perdidas",
    "06_metricas": "tests.test_lab06_metricas",
    "07_tensorboard": "tests.test_lab07_tensorboard",
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
    "06_metricas": [
        ("está prohibido usar `torchmetrics`, scikit-learn o cualquier función ya hecha de métricas",
         "test_confusion_matrix", "ataque_alias"),
        ("un tensor `int64` de forma", "test_confusion_matrix", "confmat_float"),
        ("**filas = clase real y columnas = clase predicha**", "test_confusion_matrix", "confmat_traspuesta"),
        ("Las clases que no aparecen tienen su fila y su columna a cero", "test_confusion_matrix",
         "confmat_clases_de_los_datos"),
        ('`average` es `"micro"`, `"macro"`, `"weighted"` o `"none"`', "test_precision_recall_f1",
         "micro_macro_cambiados"),
        ("Devuelve la tupla `(precision, recall, f1)`", "test_precision_recall_f1", "prf_orden_cambiado"),
        ("escalares (forma `()`) si se promedia", "test_precision_recall_f1", "micro_forma_1"),
        ("una división 0/0 (una clase nunca predicha, o nunca presente) vale **0**, nunca NaN",
         "test_precision_recall_f1_bordes", "division_nan"),
        ('en `"macro"` se promedian solo las clases con $TP + FP + FN > 0$', "test_precision_recall_f1_bordes",
         "macro_todas_las_clases"),
        ('en `"weighted"` se pesa cada clase por su soporte $TP + FN$', "test_precision_recall_f1",
         "ponderado_por_predichos"),
        ("no es la F1 de la precisión y la exhaustividad ya promediadas", "test_precision_recall_f1",
         "f1_de_los_promedios"),
        ("(cualquier valor real: solo importa el orden)", "test_roc_auc", "auc_supone_probabilidades"),
        ("como tensor escalar `float`", "test_roc_auc", "auc_float_python"),
        ("un **empate cuenta como medio**", "test_roc_auc", "auc_empates_como_aciertos"),
        ("Si `target` contiene una sola clase, la AUC no está definida: devuelve 0", "test_roc_auc",
         "auc_una_clase_media"),
        ("devuelve una `MetricCollection` **nueva** en cada llamada", "test_make_metrics", "coleccion_compartida"),
        ("con exactamente estas claves", "test_make_metrics", "clave_f1"),
        ('`"accuracy"` (exactitud multiclase, promedio micro)', "test_make_metrics", "accuracy_sin_average"),
        ('`"f1_macro"`\n   (F1 multiclase, promedio macro)', "test_make_metrics", "f1_micro"),
        ('`"hamming"` (distancia de Hamming multiclase, promedio micro)', "test_make_metrics", "hamming_sin_average"),
        ('`"confmat"` (matriz de confusión multiclase, sin normalizar)', "test_make_metrics", "confmat_normalizada"),
        ("Escribe siempre `average=`", "test_make_metrics", "accuracy_sin_average"),
        ("Recorre **todo** el cargador (todos los lotes, también un último lote más pequeño)",
         "test_evaluate_with_metrics", "salta_ultimo_lote"),
        ("Recorre **todo** el cargador", "test_evaluate_with_metrics", "lotes_salteados"),
        ("con el modelo en modo evaluación", "test_evaluate_with_metrics", "sin_eval"),
        ("sin calcular gradientes", "test_evaluate_with_metrics", "eval_con_gradientes"),
        ("devuelve el diccionario de `metrics.compute()`", "test_evaluate_with_metrics", "devuelve_la_coleccion"),
        ("**reiniciarla al empezar**", "test_evaluate_reset", "reinicia_al_final"),
        ("cada resultado debe ser solo de esa pasada", "test_evaluate_reset", "sin_reset"),
    ],
    "07_tensorboard": [
        ("que entrena `model`", "test_perdida_entrenamiento", "ataque_gancho"),
        ("Crea **un** `SummaryWriter(log_dir=log_dir)`", "test_writer_cerrado", "writer_sin_log_dir"),
        ("toma el **primer lote de `val_loader`**", "test_imagen_validacion", "imagen_de_entrenamiento"),
        ("En cada época `epoch = 1, 2, …, epochs`", "test_metricas_validacion", "epocas_desde_0"),
        ("el **paso global**: 0 en el primer lote de la primera época, +1 en cada\n      lote",
         "test_perdida_entrenamiento", "mismo_paso"),
        ("sin volver a 0 al cambiar de época", "test_perdida_entrenamiento", "paso_por_epoca"),
        ("Evalúa en modo `model.eval()`", "test_metricas_validacion", "validacion_sin_eval"),
        ("sobre **todo** `val_loader`", "test_metricas_validacion", "validacion_sin_ultimo_lote"),
        ("dividida entre el número de\n      ejemplos", "test_metricas_validacion", "media_de_medias"),
        ("(un `float` de Python en [0, 1])", "test_metricas_validacion", "exactitud_tensor"),
        ("Con **paso = `epoch`** registra, una sola vez por época", "test_metricas_validacion",
         "validacion_por_lote"),
        ("(las de\n      validación que acabas de calcular)", "test_metricas_validacion", "exactitud_de_entrenamiento"),
        ('`LearningRate` (`optimizer.param_groups[0]["lr"]`)', "test_histogramas_lr", "lr_de_defaults"),
        ("| `Parameters/{name}` | histograma | una vez por época, tras entrenarla |", "test_histogramas_lr",
         "histograma_antes_de_entrenar"),
        ("registra los hiperparámetros con las métricas finales de validación", "test_hiperparametros",
         "hparams_sin_metricas"),
        ("**Cierra** el *writer*", "test_writer_cerrado", "writer_sin_cerrar"),
        ("listas\n   de `float` de Python con un valor por lote", "test_perdida_entrenamiento", "historia_con_tensores"),
        ("Los valores registrados deben ser exactamente los de la historia", "test_metricas_validacion",
         "exactitud_de_entrenamiento"),
        ("No escribas nada más en `log_dir` con esas etiquetas", "test_metricas_validacion", "validacion_por_lote"),
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
    "04_perdidas": [
        "Las celdas de pruebas que siguen tienen una parte visible",
        "Esta celda (no calificada) entrena el mismo MLP",
    ],
    "06_metricas": [
        "**Parte B — con `torchmetrics`.**",
        "Esta celda (no calificada) aplica tus funciones",
        "Las celdas de pruebas tienen una parte visible",
    ],
    "07_tensorboard": [
        "**Argumentos.**",
        "**Qué hace.**",
        "La primera celda ejecuta tu función durante una época",
    ],
}
