"""Laboratorio 01: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "01_tensores"

BUGS = {
    # Entropía cruzada ingenua: exp() desborda con logits de ±1000 y da inf/NaN; en MNIST
    # entrena, pero sus errores de redondeo la alejan de la referencia (9e-3 frente a 1e-6
    # de cualquier versión estable), así que pierde las dos celdas de cross_entropy.
    "ce_inestable": (
        {"cross_entropy": (
            "def cross_entropy(logits, target):\n"
            "    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)\n"
            "    return -torch.log(probs[torch.arange(len(target)), target]).mean()\n"
        )},
        {"test_cross_entropy", "test_entrenamiento_cross_entropy"},
    ),
    # Softmax normalizada por columnas en lugar de por filas.
    "softmax_dim0": (
        {"softmax": [("logits.max(dim=1, keepdim=True)", "logits.max(dim=0, keepdim=True)"),
                     ("exp.sum(dim=1, keepdim=True)", "exp.sum(dim=0, keepdim=True)")]},
        {"test_softmax"},
    ),
    # Olvida borrar los gradientes: se acumulan de un paso a otro.
    "sin_borrar_gradientes": (
        {"sgd_step": [("            p.grad = None", "            pass")]},
        {"test_sgd_step", "test_entrenamiento_sgd_step"},
    ),
    # Exactitud con argmax sobre el eje de los ejemplos.
    "accuracy_eje_erroneo": (
        {"accuracy": [("logits.argmax(dim=1)", "logits.argmax(dim=0)")]},
        {"test_accuracy"},
    ),
    # Usa la función prohibida torch.softmax dentro de su softmax.
    "softmax_prohibida": (
        {"softmax": "def softmax(logits):\n    return torch.softmax(logits, dim=1)\n"},
        {"test_softmax"},
    ),
}


class TestLab01Tensores(LabGradingTests):
    LAB = LAB
    TOTAL = 12
    BUGS = BUGS
