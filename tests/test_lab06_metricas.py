"""Laboratorio 06: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "06_metricas"

_EVAL_LOOP = (
    "        for images, labels in loader:\n"
    "            images, labels = images.to(device), labels.to(device)\n"
    "            metrics.update(model(images), labels)\n"
)

BUGS = {
    # Matriz de confusión traspuesta: filas = predicción, columnas = clase real.
    "confmat_traspuesta": (
        {"confusion_matrix": [("index = target * num_classes + preds", "index = preds * num_classes + target")]},
        {"test_confusion_matrix"},
    ),
    # Promedios micro y macro intercambiados.
    "micro_macro_cambiados": (
        {"precision_recall_f1": [('if average == "micro":', 'if average == "@@":'),
                                 ('if average == "macro":', 'if average == "micro":'),
                                 ('if average == "@@":', 'if average == "macro":'),
                                 ('elif average in ("micro", "none"):', 'elif average in ("macro", "none"):')]},
        {"test_precision_recall_f1", "test_precision_recall_f1_bordes"},
    ),
    # División directa: 0/0 da NaN en lugar del 0 de torchmetrics (solo en los casos límite).
    "division_nan": (
        {"precision_recall_f1": [(
            "        return torch.where(den == 0, torch.zeros_like(num), num / torch.where(den == 0, torch.ones_like(den), den))",
            "        return num / den",
        )]},
        {"test_precision_recall_f1_bordes"},
    ),
    # AUC por pares que cuenta los empates como aciertos (>= en lugar de > con medio empate).
    "auc_empates_como_aciertos": (
        {"roc_auc_binary": (
            "def roc_auc_binary(scores, target):\n"
            "    pos = scores[target == 1]\n"
            "    neg = scores[target == 0]\n"
            "    if len(pos) == 0 or len(neg) == 0:\n"
            "        return torch.tensor(0.0)\n"
            "    return (pos[:, None] >= neg[None, :]).float().mean()\n"
        )},
        {"test_roc_auc"},
    ),
    # MulticlassAccuracy sin average=: promedia en macro, no en micro.
    "accuracy_sin_average": (
        {"make_metrics": [('MulticlassAccuracy(num_classes=num_classes, average="micro")',
                           "MulticlassAccuracy(num_classes=num_classes)")]},
        {"test_make_metrics"},
    ),
    # Las métricas no se reinician entre llamadas (épocas): acumulan las pasadas anteriores.
    "sin_reset": (
        {"evaluate_with_metrics": [("    metrics.reset()\n", "")]},
        {"test_evaluate_reset"},
    ),
    # Métricas actualizadas solo en algunos lotes (el error del bucle de la semilla 000).
    "lotes_salteados": (
        {"evaluate_with_metrics": [(_EVAL_LOOP, (
            "        for i, (images, labels) in enumerate(loader):\n"
            "            images, labels = images.to(device), labels.to(device)\n"
            "            if i % 2 == 0:\n"
            "                metrics.update(model(images), labels)\n"
        ))]},
        {"test_evaluate_with_metrics"},
    ),
    # Se salta el último lote si es incompleto (como el bucle de validación de la semilla 002).
    "salta_ultimo_lote": (
        {"evaluate_with_metrics": [(_EVAL_LOOP, (
            "        for images, labels in loader:\n"
            "            if len(labels) < loader.batch_size:\n"
            "                continue\n"
            "            images, labels = images.to(device), labels.to(device)\n"
            "            metrics.update(model(images), labels)\n"
        ))]},
        {"test_evaluate_with_metrics"},
    ),
    # Evalúa en modo entrenamiento (olvida model.eval()): el dropout sigue activo.
    "sin_eval": (
        {"evaluate_with_metrics": [("    model.eval()\n", "")]},
        {"test_evaluate_with_metrics"},
    ),
}


class TestLab06Metricas(LabGradingTests):
    LAB = LAB
    TOTAL = 17
    BUGS = BUGS
