"""Laboratorio 03: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import ADDED_CELLS, BASE64_CELL, LabGradingTests, cell_errors

LAB = "03_entrenamiento"
ALL = {"test_train_one_epoch", "test_train_one_epoch_perdida", "test_evaluate", "test_evaluate_modo",
       "test_dispositivo", "test_fit_historial", "test_fit_parada_temprana", "test_fit_mnist"}

EVALUATE_WITHOUT_NO_GRAD = '''def evaluate(model, loader, loss_fn, device):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        batch_size = y.shape[0]
        total_loss += loss_fn(logits, y).item() * batch_size
        correct += (logits.argmax(dim=1) == y).sum().item()
        seen += batch_size
    return total_loss / seen, correct / seen
'''

BUGS = {
    # Sin zero_grad: los gradientes se acumulan de lote en lote y los pesos se alejan de la
    # referencia.
    "sin_zero_grad": (
        {"train_one_epoch": [("        optimizer.zero_grad()\n", "")]},
        {"test_train_one_epoch"},
    ),
    # zero_grad entre backward y step: borra lo recién calculado y step no mueve los pesos.
    "zero_grad_tras_backward": (
        {"train_one_epoch": [(
            "        optimizer.zero_grad()\n        loss = loss_fn(model(x), y)\n        loss.backward()\n",
            "        loss = loss_fn(model(x), y)\n        loss.backward()\n        optimizer.zero_grad()\n",
        )]},
        {"test_train_one_epoch"},
    ),
    # evaluate sin model.eval(): Dropout activo y BatchNorm actualiza sus medias móviles.
    "evaluate_sin_eval": (
        {"evaluate": [("    model.eval()\n", "")]},
        {"test_evaluate_modo"},
    ),
    # evaluate sin torch.no_grad(): construye el grafo en cada lote.
    "evaluate_con_gradientes": (
        {"evaluate": EVALUATE_WITHOUT_NO_GRAD},
        {"test_evaluate_modo"},
    ),
    # Media de las medias de los lotes (pérdida y exactitud): falla con un último lote menor.
    "media_de_medias": (
        {
            "train_one_epoch": [
                ("total_loss += loss.item() * batch_size", "total_loss += loss.item()"),
                ("seen += batch_size", "seen += 1"),
            ],
            "evaluate": [
                ("total_loss += loss_fn(logits, y).item() * batch_size", "total_loss += loss_fn(logits, y).item()"),
                ("correct += (logits.argmax(dim=1) == y).sum().item()",
                 "correct += (logits.argmax(dim=1) == y).float().mean().item()"),
                ("seen += batch_size", "seen += 1"),
            ],
        },
        {"test_train_one_epoch_perdida", "test_evaluate"},
    ),
    # Acumula la pérdida como tensor: devuelve un float correcto, pero mantiene vivo el grafo
    # de todos los lotes de la época.
    "perdida_como_tensor": (
        {"train_one_epoch": [
            ("total_loss += loss.item() * batch_size", "total_loss += loss * batch_size"),
            ("return total_loss / seen", "return total_loss.item() / seen"),
        ]},
        {"test_train_one_epoch_perdida"},
    ),
    # Parada temprana que «guarda» el state_dict sin copiarlo: restaura los últimos pesos.
    "parada_guarda_ultimos": (
        {"fit": [("best_state = copy.deepcopy(model.state_dict())", "best_state = model.state_dict()")]},
        {"test_fit_parada_temprana"},
    ),
    # Parada temprana que cuenta un empate como mejora («<=» en lugar de «estrictamente menor»): se
    # queda con la última de las épocas empatadas y, tras un empate, sigue entrenando.
    "empate_cuenta_como_mejora": (
        {"fit": [("if val_loss < best_loss:", "if val_loss <= best_loss:")]},
        {"test_fit_parada_temprana"},
    ),
    # Restaura los mejores pesos solo si se detiene antes de tiempo: si las épocas se acaban sin
    # agotar la paciencia, se queda con los últimos (las pruebas visibles no lo ven).
    "restaura_solo_al_parar": (
        {"fit": [(
            "            if epochs_without_improvement >= patience:\n                break\n"
            "    if best_state is not None:\n        model.load_state_dict(best_state)\n",
            "            if epochs_without_improvement >= patience:\n"
            "                model.load_state_dict(best_state)\n                break\n",
        )]},
        {"test_fit_parada_temprana"},
    ),
    # Los lotes no se mueven a device (en una GPU, además, fallaría con RuntimeError).
    "datos_sin_mover": (
        {
            "train_one_epoch": [("        x, y = x.to(device), y.to(device)\n", "")],
            "evaluate": [("            x, y = x.to(device), y.to(device)\n", "")],
        },
        {"test_dispositivo"},
    ),
}


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «ninguna de las funciones crea optimizadores»: train_one_epoch usa su propio SGD e ignora el
    # optimizador recibido (con Adam, con momento o con tasa 0, los pesos y la pérdida cambian).
    "optimizador_propio": (
        {"train_one_epoch": [("    model.train()\n",
                              "    model.train()\n    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n")]},
        {"test_train_one_epoch", "test_train_one_epoch_perdida"},
    ),
    # La firma de train_one_epoch con el optimizador antes que la pérdida.
    "train_argumentos_en_otro_orden": (
        {"train_one_epoch": [("def train_one_epoch(model, loader, loss_fn, optimizer, device):",
                              "def train_one_epoch(model, loader, optimizer, loss_fn, device):")]},
        {"test_train_one_epoch", "test_train_one_epoch_perdida", "test_dispositivo", "test_fit_mnist"},
    ),
    # «Pone el modelo en modo entrenamiento»: sin model.train(), una red que llega en modo
    # evaluación entrena con Dropout apagado y sin actualizar BatchNorm.
    # «Recorre loader una vez»: dos pasadas por época.
    "recorre_dos_veces": (
        {"train_one_epoch": [("    for x, y in loader:\n", "    for x, y in [*loader, *loader]:\n")]},
        {"test_train_one_epoch", "test_train_one_epoch_perdida", "test_dispositivo"},
    ),
    "sin_model_train": (
        {"train_one_epoch": [("    model.train()\n", "")]},
        {"test_train_one_epoch"},
    ),
    # «como float de Python»: devuelve la media como tensor de PyTorch.
    "perdida_devuelta_como_tensor": (
        {"train_one_epoch": [("return total_loss / seen", "return torch.tensor(total_loss / seen)")]},
        {"test_train_one_epoch_perdida"},
    ),
    # La firma de evaluate con device antes que la pérdida.
    "evaluate_argumentos_en_otro_orden": (
        {"evaluate": [("def evaluate(model, loader, loss_fn, device):", "def evaluate(model, loader, device, loss_fn):")]},
        {"test_evaluate", "test_evaluate_modo", "test_dispositivo", "test_fit_mnist"},
    ),
    # «dos float de Python»: la exactitud sale como tensor (suma de aciertos sin .item()).
    "exactitud_como_tensor": (
        {"evaluate": [("correct += (logits.argmax(dim=1) == y).sum().item()",
                       "correct += (logits.argmax(dim=1) == y).sum()")]},
        {"test_evaluate"},
    ),
    # «patience=None»: patience con un valor por defecto, así que fit sin patience se queda con los
    # pesos de la mejor época en lugar de los de la última.
    "paciencia_por_defecto": (
        {"fit": [("device, patience=None):", "device, patience=5):")]},
        {"test_fit_historial"},
    ),
    # «evaluate con val_loader»: valida con los datos de entrenamiento.
    "valida_con_train_loader": (
        {"fit": [("val_loss, val_acc = evaluate(model, val_loader,", "val_loss, val_acc = evaluate(model, train_loader,")]},
        {"test_fit_historial", "test_fit_mnist"},
    ),
    # «exactamente las claves»: el historial guarda también la mejor época.
    "historial_con_clave_de_mas": (
        {"fit": [('history = {"train_loss": [], "val_loss": [], "val_acc": []}',
                  'history = {"train_loss": [], "val_loss": [], "val_acc": [], "best_epoch": []}')]},
        {"test_fit_historial", "test_fit_parada_temprana", "test_fit_mnist"},
    ),
    # «Si pasan patience épocas seguidas sin mejorar, fit se detiene»: se detiene una época tarde.
    "paciencia_mas_uno": (
        {"fit": [("if epochs_without_improvement >= patience:", "if epochs_without_improvement > patience:")]},
        {"test_fit_parada_temprana"},
    ),
}

# Soluciones correctas escritas de otra forma: sacan el máximo (ninguna celda pierde puntos).
ALTERNATIVES = {
    # Otro orden del paso: borra los gradientes una vez antes del bucle y después de cada step (no al
    # principio de cada lote); mueve x e y por separado y acumula pares (suma, tamaño) del lote.
    "alternativa_zero_grad_al_final": (
        {"train_one_epoch": (
            "def train_one_epoch(model, loader, loss_fn, optimizer, device):\n"
            "    model.train()\n"
            "    optimizer.zero_grad(set_to_none=False)\n"
            "    sums = []\n"
            "    for x, y in loader:\n"
            "        x = x.to(device)\n"
            "        y = y.to(device)\n"
            "        loss = loss_fn(model(x), y)\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        optimizer.zero_grad()\n"
            "        sums.append((loss.item() * len(y), len(y)))\n"
            "    return sum(s for s, _ in sums) / sum(n for _, n in sums)\n")},
        set(),
    ),
    # torch.inference_mode() en lugar de no_grad, float()/int() en lugar de .item(), max().indices en
    # lugar de argmax y las sumas hechas al final.
    "alternativa_evaluate_concatenando": (
        {"evaluate": (
            "def evaluate(model, loader, loss_fn, device):\n"
            "    model.eval()\n"
            "    losses, hits, sizes = [], [], []\n"
            "    with torch.inference_mode():\n"
            "        for x, y in loader:\n"
            "            x, y = x.to(device), y.to(device)\n"
            "            out = model(x)\n"
            "            losses.append(float(loss_fn(out, y)) * y.numel())\n"
            "            hits.append(int((out.max(dim=1).indices == y).sum()))\n"
            "            sizes.append(y.numel())\n"
            "    n = sum(sizes)\n"
            "    return sum(losses) / n, sum(hits) / n\n")},
        set(),
    ),
    # fit con un bucle while, el historial rellenado con zip y la mejor época guardada por su índice
    # (las épocas sin mejorar se cuentan como distancia a la mejor).
    "alternativa_fit_while": (
        {"fit": (
            "def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, device, patience=None):\n"
            "    history = dict(train_loss=[], val_loss=[], val_acc=[])\n"
            "    best, best_state, epoch = None, None, 0\n"
            "    while epoch < epochs:\n"
            "        tl = train_one_epoch(model, train_loader, loss_fn, optimizer, device)\n"
            "        vl, va = evaluate(model, val_loader, loss_fn, device)\n"
            "        for key, value in zip(('train_loss', 'val_loss', 'val_acc'), (tl, vl, va)):\n"
            "            history[key].append(value)\n"
            "        epoch += 1\n"
            "        if patience is not None:\n"
            "            if best is None or vl < history['val_loss'][best]:\n"
            "                best = epoch - 1\n"
            "                best_state = copy.deepcopy(model.state_dict())\n"
            "            elif epoch - 1 - best >= patience:\n"
            "                break\n"
            "    if best_state is not None:\n"
            "        model.load_state_dict(best_state)\n"
            "    return history\n")},
        set(),
    ),
}


# Entregas hostiles contra el juez: los puntos se deciden fuera del núcleo del alumno, con los datos
# de la sonda, que el juez compara con sus propias referencias. Van fuera de BUGS (errores típicos,
# que también deben detectar las pruebas visibles: test_visible_checks.py); la clase de abajo
# califica las dos listas.
FORGE = (
    "import torch\n"
    "import curso_pytorch.probe as sonda\n\n"
    "_original = sonda.plain\n\n"
    "def _forja(value):\n"
    "    if isinstance(value, torch.Tensor):\n"
    "        return torch.zeros_like(value)\n"
    "    if type(value) is float:\n"
    "        return 0.5\n"
    "    if type(value) in (list, tuple):\n"
    "        return type(value)(_forja(v) for v in value)\n"
    "    if type(value) is dict:\n"
    "        return {k: _forja(v) for k, v in value.items()}\n"
    "    return value\n\n"
    "def _instala(*args):\n"
    "    sonda.plain = lambda value, depth=0: _forja(_original(value))\n\n"
    "get_ipython().events.register('pre_run_cell', _instala)\n"
)

ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, cambia la sonda para que entregue datos inventados
    # (pesos a cero, pérdidas de 0.5): no coinciden con las referencias del juez. Solo conserva su punto
    # la celda del dispositivo, que solo mira si los lotes se movieron (la referencia los mueve).
    "ataque_sonda_falsa": (
        {ADDED_CELLS: [FORGE]},
        ALL - {"test_dispositivo"},
    ),
    # Lotes sin mover y la ayuda del curso de la prueba visible sustituida para que no lo vea: la sonda
    # oculta usa su propio instrumento y el juez lo ve.
    "ataque_instrumento": (
        {"train_one_epoch": [("        x, y = x.to(device), y.to(device)\n", "")],
         "evaluate": [("            x, y = x.to(device), y.to(device)\n", "")],
         ADDED_CELLS: ["import torch.nn.functional as F\nimport curso_pytorch.checks as ayudas\n\n"
                       "ayudas.require_moved = lambda run, model, what: run(F.cross_entropy)\n"]},
        {"test_dispositivo"},
    ),
    # fit llama a sus funciones a través de alias definidos en otra celda: las pruebas de fit no pueden
    # sustituirlas por las de referencia y pierden las celdas que lo necesitan.
    "ataque_alias": (
        {ADDED_CELLS: ["paso, valida = train_one_epoch, evaluate\n"],
         "fit": [("train_loss = train_one_epoch(", "train_loss = paso("),
                 ("val_loss, val_acc = evaluate(", "val_loss, val_acc = valida(")]},
        {"test_fit_historial", "test_fit_parada_temprana"},
    ),
    # Código oculto en base64: las pruebas que vienen detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}


class TestLab03Entrenamiento(LabGradingTests):
    LAB = LAB
    TOTAL = 16
    BUGS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}

    def test_forged_data_loses_with_reasons(self, scores, grading_root):
        """Los datos inventados pierden por lo que el juez compara (pesos y pérdidas), no por un fallo del juez."""
        for cell, reasons in cell_errors(grading_root, LAB, "ataque_sonda_falsa").items():
            if cell in ATTACKS["ataque_sonda_falsa"][1]:
                assert reasons and not any("el juez de esta celda falló" in r for r in reasons), reasons
