"""Laboratorio 03: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "03_entrenamiento"

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
    # Los lotes no se mueven a device (en una GPU, además, fallaría con RuntimeError).
    "datos_sin_mover": (
        {
            "train_one_epoch": [("        x, y = x.to(device), y.to(device)\n", "")],
            "evaluate": [("            x, y = x.to(device), y.to(device)\n", "")],
        },
        {"test_dispositivo"},
    ),
}


class TestLab03Entrenamiento(LabGradingTests):
    LAB = LAB
    TOTAL = 16
    BUGS = BUGS
