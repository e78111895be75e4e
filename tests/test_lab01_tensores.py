"""Laboratorio 01: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

import pytest

from tests.grading import assert_full_marks, assert_loses_exactly, assert_zero, grade_variants

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


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    variants = {name: changes for name, (changes, _) in BUGS.items()}
    return grade_variants(tmp_path_factory.mktemp("lab01") / "curso", LAB, variants)


def test_reference_gets_full_marks(scores):
    assert_full_marks(scores["referencia"])
    assert sum(s[1] for s in scores["referencia"].values()) == 12


def test_blank_release_gets_zero(scores):
    assert_zero(scores["en_blanco"])


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_typical_bug_loses_only_its_part(scores, bug):
    assert_loses_exactly(scores[bug], BUGS[bug][1])
