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
    BUGS = {**BUGS, **ATTACKS}

    def test_forged_data_loses_with_reasons(self, scores, grading_root):
        """Los datos inventados pierden por lo que el juez compara (pesos y pérdidas), no por un fallo del juez."""
        for cell, reasons in cell_errors(grading_root, LAB, "ataque_sonda_falsa").items():
            if cell in ATTACKS["ataque_sonda_falsa"][1]:
                assert reasons and not any("el juez de esta celda falló" in r for r in reasons), reasons
