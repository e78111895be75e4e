"""Laboratorio 04: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

import nbformat

from curso_pytorch import course
from tests.grading import ADDED_CELLS, BLANK, LabGradingTests

LAB = "04_perdidas"
ALL = {"test_reduce_loss", "test_mse", "test_mae", "test_mbe", "test_huber", "test_hinge_multiclass",
       "test_cross_entropy", "test_cross_entropy_weight", "test_cross_entropy_smoothing",
       "test_entrenamiento_cross_entropy", "test_entrenamiento_hinge"}

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


# Entregas hostiles contra el juez: los puntos se deciden fuera del núcleo del alumno, con los datos de
# la sonda y el código entregado. El enunciado prohíbe las pérdidas ya hechas de PyTorch en todas las
# funciones del ejercicio, así que una celda añadida que las use deja sin puntos todas las celdas. Van
# fuera de BUGS (errores típicos, que también deben detectar las pruebas visibles: test_visible_checks.py);
# la clase de abajo califica las dos listas.
ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, define las pérdidas con las de PyTorch: los datos
    # de la sonda serían correctos, pero la celda añadida usa lo prohibido.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [(
            "import torch.nn.functional as F\n\n"
            "def _reduce(values, reduction='mean'):\n"
            "    if reduction not in ('mean', 'sum', 'none'):\n"
            "        raise ValueError(reduction)\n"
            "    return values.mean() if reduction == 'mean' else values.sum() if reduction == 'sum' else values\n\n"
            "def _resuelve(*args):\n"
            "    ns = get_ipython().user_ns\n"
            "    ns['reduce_loss'] = _reduce\n"
            "    ns['mse'], ns['mae'], ns['huber'] = F.mse_loss, F.l1_loss, F.huber_loss\n"
            "    ns['mbe'] = lambda input, target, reduction='mean': _reduce(target - input, reduction)\n"
            "    ns['hinge_multiclass'], ns['cross_entropy'] = F.multi_margin_loss, F.cross_entropy\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n")]},
        ALL,
    ),
    # Un alias de una pérdida prohibida definido en otra celda y usado por la respuesta: la celda
    # añadida usa lo que el enunciado prohíbe en todas las funciones.
    "ataque_alias": (
        {ADDED_CELLS: ["ce = torch.nn.functional.cross_entropy\n"],
         "cross_entropy": (
             "def cross_entropy(logits, target, weight=None, label_smoothing=0.0, reduction='mean'):\n"
             "    return ce(logits, target, weight=weight, label_smoothing=label_smoothing, reduction=reduction)\n")},
        ALL,
    ),
    # Un alias del módulo en otra celda (permitido por sí solo) y la pérdida prohibida en la respuesta:
    # solo pierde la celda de esa respuesta.
    "ataque_alias_modulo": (
        {ADDED_CELLS: ["G = torch.nn.functional\n"],
         "mse": "def mse(input, target, reduction='mean'):\n    return G.mse_loss(input, target, reduction=reduction)\n"},
        {"test_mse"},
    ),
    # Código oculto en base64: las pruebas que vienen detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: ["import base64\nexec(base64.b64decode('cGFzcw=='))\n"]},
        ALL,
    ),
}


def _test_cell_errors(grading_root, student):
    """Los motivos de error de cada celda de pruebas del cuaderno calificado de ``student``."""
    nb = nbformat.read(grading_root / "autograded" / student / LAB / f"{LAB}.ipynb", as_version=4)
    return {course.grade_id(cell): [o.evalue for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            for cell in nb.cells if course.is_test_cell(cell)}


class TestLab04Perdidas(LabGradingTests):
    LAB = LAB
    TOTAL = 18
    BUGS = {**BUGS, **ATTACKS}

    def test_hook_loses_for_the_forbidden_losses(self, scores, grading_root):
        """El gancho no gana nada: en cada celda, el juez señala la celda añadida que usa lo prohibido."""
        for cell, reasons in _test_cell_errors(grading_root, "ataque_gancho").items():
            assert any("escrita o cambiada por ti" in r for r in reasons), (cell, reasons)

    def test_hidden_code_asks_for_review(self, scores, grading_root):
        """El código que se genera u oculta deja sin puntos lo que viene detrás con un motivo que pide
        revisar la entrega a mano."""
        errors = _test_cell_errors(grading_root, "ataque_base64")
        assert set(errors) == ALL
        for cell, reasons in errors.items():
            assert any("el módulo «base64»" in r and "revise la entrega a mano" in r for r in reasons), (cell, reasons)
