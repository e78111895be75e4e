"""Laboratorio 04: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "04_perdidas"

CE_CELLS = {"test_cross_entropy", "test_cross_entropy_weight", "test_cross_entropy_smoothing",
            "test_entrenamiento_cross_entropy"}

BUGS = {
    # Logaritmo en base 2 (el error del ejemplo resuelto del material original): la pérdida
    # sale multiplicada por 1/ln 2 ≈ 1.44, así que fallan todos los valores y gradientes de
    # cross_entropy y, con SGD, el entrenamiento se aleja de la referencia (≈ 0.1 de diferencia
    # relativa en los pesos frente a 2e-7 de una versión correcta).
    "log2_en_lugar_de_ln": (
        {"cross_entropy": [(
            "    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n",
            "    log_probs = (shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True)))"
            " / 0.6931471805599453  # log2 p = ln p / ln 2\n",
        )]},
        CE_CELLS,
    ),
    # Logaritmo de la softmax calculada de forma ingenua: exp(1000) desborda y da NaN/inf con
    # logits extremos. Con logits moderados (pesos, suavizado, MNIST) es correcta, así que
    # solo pierde la celda que prueba la estabilidad.
    "log_softmax_ingenua": (
        {"cross_entropy": [(
            "    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n",
            "    log_probs = torch.log(torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True))\n",
        )]},
        {"test_cross_entropy"},
    ),
    # Bisagra que también suma el término de la clase correcta: añade margin / C a cada ejemplo.
    # El gradiente no cambia (ese término es constante), así que el entrenamiento sigue igual
    # que la referencia y solo se pierden los valores.
    "bisagra_con_clase_correcta": (
        {"hinge_multiclass": [("(margins * others).sum(dim=1)", "margins.sum(dim=1)")]},
        {"test_hinge_multiclass"},
    ),
    # Media ponderada dividida entre N en lugar de la suma de los pesos de los ejemplos.
    "media_ponderada_entre_n": (
        {"cross_entropy": [("return losses.sum() / sample_weight.sum()", "return losses.sum() / len(target)")]},
        {"test_cross_entropy_weight"},
    ),
    # Suavizado de etiquetas repartido entre las C−1 clases incorrectas en lugar de entre las C.
    "suavizado_entre_c_menos_1": (
        {"cross_entropy": [(
            "    smooth = -(log_probs * weight).sum(dim=1) / num_classes\n",
            "    smooth = (-(log_probs * weight).sum(dim=1) - nll) / (num_classes - 1)\n",
        )]},
        {"test_cross_entropy_smoothing"},
    ),
    # MBE con valor absoluto: pierde el signo (es el MAE).
    "mbe_con_valor_absoluto": (
        {"mbe": [("reduce_loss(target - input, reduction)", "reduce_loss((target - input).abs(), reduction)")]},
        {"test_mbe"},
    ),
    # Usa la pérdida ya hecha de PyTorch, que el enunciado prohíbe.
    "cross_entropy_prohibida": (
        {"cross_entropy": (
            "import torch.nn.functional as F\n"
            "def cross_entropy(logits, target, weight=None, label_smoothing=0.0, reduction='mean'):\n"
            "    return F.cross_entropy(logits, target, weight=weight, label_smoothing=label_smoothing,\n"
            "                           reduction=reduction)\n"
        )},
        CE_CELLS,
    ),
}


class TestLab04Perdidas(LabGradingTests):
    LAB = LAB
    TOTAL = 18
    BUGS = BUGS
