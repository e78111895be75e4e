"""Laboratorio 06: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, LabGradingTests, cell_errors

LAB = "06_metricas"
ALL = {"test_confusion_matrix", "test_precision_recall_f1", "test_precision_recall_f1_bordes", "test_roc_auc",
       "test_make_metrics", "test_evaluate_with_metrics", "test_evaluate_reset"}

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
    # «Llevar metrics a device»: la colección se queda donde llegó (en una máquina sin GPU, los mismos valores).
    "metricas_sin_mover": (
        {"evaluate_with_metrics": [("    metrics = metrics.to(device)\n", "")]},
        {"test_evaluate_with_metrics"},
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


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «un tensor int64»: la matriz de confusión en float.
    "confmat_float": (
        {"confusion_matrix": [("return counts.reshape(num_classes, num_classes)",
                               "return counts.reshape(num_classes, num_classes).float()")]},
        {"test_confusion_matrix"},
    ),
    # «Las clases que no aparecen tienen su fila y su columna a cero»: el número de clases sale de
    # los datos, así que la matriz encoge si faltan las últimas clases.
    "confmat_clases_de_los_datos": (
        {"confusion_matrix": [("    index = target * num_classes + preds\n",
                               "    num_classes = int(torch.cat([preds, target]).max()) + 1\n"
                               "    index = target * num_classes + preds\n")]},
        {"test_confusion_matrix"},
    ),
    # «la tupla (precision, recall, f1)»: la precisión y la exhaustividad en otro orden.
    "prf_orden_cambiado": (
        {"precision_recall_f1": [("        return precision, recall, f1", "        return recall, precision, f1"),
                                 ("for s in (precision, recall, f1))", "for s in (recall, precision, f1))")]},
        {"test_precision_recall_f1", "test_precision_recall_f1_bordes"},
    ),
    # «escalares (forma ()) si se promedia»: el promedio micro queda con forma (1,).
    "micro_forma_1": (
        {"precision_recall_f1": [("tp, fp, fn = tp.sum(), fp.sum(), fn.sum()",
                                  "tp, fp, fn = tp.sum(0, keepdim=True), fp.sum(0, keepdim=True), fn.sum(0, keepdim=True)")]},
        {"test_precision_recall_f1", "test_precision_recall_f1_bordes"},
    ),
    # «en "macro" se promedian solo las clases con VP + FP + FN > 0»: promedia todas las clases. Las
    # entradas aleatorias y reales tienen todas las clases, así que solo pierde los casos límite.
    "macro_todas_las_clases": (
        {"precision_recall_f1": [("weights = (tp + fp + fn > 0).float()", "weights = torch.ones_like(tp)")]},
        {"test_precision_recall_f1_bordes"},
    ),
    # «en "weighted" se pesa cada clase por su soporte VP + FN»: pesa por las predicciones (VP + FP).
    "ponderado_por_predichos": (
        {"precision_recall_f1": [("weights = tp + fn ", "weights = tp + fp ")]},
        {"test_precision_recall_f1", "test_precision_recall_f1_bordes"},
    ),
    # «no es la F1 de la precisión y la exhaustividad ya promediadas»: justo eso.
    "f1_de_los_promedios": (
        {"precision_recall_f1": [(
            "    return tuple(safe_divide((weights * s).sum(), weights.sum()) for s in (precision, recall, f1))",
            "    p, r = (safe_divide((weights * s).sum(), weights.sum()) for s in (precision, recall))\n"
            "    return p, r, safe_divide(2 * p * r, p + r)")]},
        {"test_precision_recall_f1", "test_precision_recall_f1_bordes"},
    ),
    # «como tensor escalar float»: un float de Python.
    "auc_float_python": (
        {"roc_auc_binary": [("return (u / (n_pos * n_neg)).float()", "return (u / (n_pos * n_neg)).item()")]},
        {"test_roc_auc"},
    ),
    # «cualquier valor real: solo importa el orden»: supone probabilidades en [0, 1] (los logits
    # negativos o mayores que 1 quedan empatados).
    "auc_supone_probabilidades": (
        {"roc_auc_binary": [("scores = scores.reshape(-1).double()", "scores = scores.reshape(-1).double().clamp(0, 1)")]},
        {"test_roc_auc"},
    ),
    # «Si target contiene una sola clase … devuelve 0»: devuelve la AUC de un clasificador al azar.
    "auc_una_clase_media": (
        {"roc_auc_binary": [("return torch.tensor(0.0)", "return torch.tensor(0.5)")]},
        {"test_roc_auc"},
    ),
    # «una MetricCollection nueva en cada llamada»: la misma colección (con sus datos) en cada llamada.
    "coleccion_compartida": (
        {"make_metrics": [("def make_metrics(num_classes):", "_CREADAS = {}\n\ndef make_metrics(num_classes):"),
                          ("    return MetricCollection({", "    if num_classes in _CREADAS:\n"
                           "        return _CREADAS[num_classes]\n"
                           "    _CREADAS[num_classes] = MetricCollection({"),
                          ("    })", "    })\n    return _CREADAS[num_classes]")]},
        {"test_make_metrics"},
    ),
    # «"f1_macro" (F1 multiclase, promedio macro)»: promedio micro.
    "f1_micro": (
        {"make_metrics": [('MulticlassF1Score(num_classes=num_classes, average="macro")',
                           'MulticlassF1Score(num_classes=num_classes, average="micro")')]},
        {"test_make_metrics"},
    ),
    # «"hamming" (…, promedio micro)»: sin average= (macro por defecto).
    "hamming_sin_average": (
        {"make_metrics": [('MulticlassHammingDistance(num_classes=num_classes, average="micro")',
                           "MulticlassHammingDistance(num_classes=num_classes)")]},
        {"test_make_metrics"},
    ),
    # «"confmat" (matriz de confusión multiclase, sin normalizar)»: normalizada por filas.
    "confmat_normalizada": (
        {"make_metrics": [("MulticlassConfusionMatrix(num_classes=num_classes)",
                           'MulticlassConfusionMatrix(num_classes=num_classes, normalize="true")')]},
        {"test_make_metrics"},
    ),
    # «exactamente estas claves»: "f1" en lugar de "f1_macro".
    "clave_f1": (
        {"make_metrics": [('"f1_macro": MulticlassF1Score', '"f1": MulticlassF1Score')]},
        {"test_make_metrics"},
    ),
    # «sin calcular gradientes»: la pasada registra el grafo.
    "eval_con_gradientes": (
        {"evaluate_with_metrics": [("    with torch.no_grad():\n", "    with torch.enable_grad():\n")]},
        {"test_evaluate_with_metrics"},
    ),
    # «devuelve el diccionario de metrics.compute()»: devuelve la colección.
    "devuelve_la_coleccion": (
        {"evaluate_with_metrics": [("    return metrics.compute()", "    return metrics")]},
        {"test_evaluate_with_metrics", "test_evaluate_reset"},
    ),
    # «reiniciarla al empezar»: la reinicia al terminar; la colección que llega con datos anteriores
    # los arrastra a la primera pasada.
    "reinicia_al_final": (
        {"evaluate_with_metrics": [("    metrics.reset()\n", ""),
                                   ("    return metrics.compute()",
                                    "    values = metrics.compute()\n    metrics.reset()\n    return values")]},
        {"test_evaluate_reset"},
    ),
}

# Respuestas correctas escritas de otra forma: sacan el máximo (los umbrales salen de una referencia en
# float64, no de una implementación). Todas en una sola entrega, para no alargar la calificación.
ALTERNATIVES = {
    "alternativa": (
        {"confusion_matrix": (
            "def confusion_matrix(preds, target, num_classes):\n"
            "    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)\n"
            "    cm.index_put_((target.long(), preds.long()), torch.ones(len(target), dtype=torch.int64), accumulate=True)\n"
            "    return cm\n"),
         # F1 = 2·VP / (predichos + reales) y 0/0 con nan_to_num, en float64.
         "precision_recall_f1": (
             "def precision_recall_f1(confmat, average):\n"
             "    cm = confmat.double()\n"
             "    tp, predicted, real = cm.diag(), cm.sum(dim=0), cm.sum(dim=1)\n"
             "    if average == 'micro':\n"
             "        tp, predicted, real = tp.sum(), predicted.sum(), real.sum()\n"
             "    p, r = torch.nan_to_num(tp / predicted), torch.nan_to_num(tp / real)\n"
             "    f1 = torch.nan_to_num(2 * tp / (predicted + real))\n"
             "    if average in ('micro', 'none'):\n"
             "        return p.float(), r.float(), f1.float()\n"
             "    if average == 'macro':\n"
             "        seen = (predicted + real) > 0\n"
             "        return tuple(s[seen].mean().float() for s in (p, r, f1))\n"
             "    if average == 'weighted':\n"
             "        return tuple((real * s).sum().div(real.sum()).float() for s in (p, r, f1))\n"
             "    raise ValueError(average)\n"),
         # La AUC contando pares en lugar de rangos.
         "roc_auc_binary": (
             "def roc_auc_binary(scores, target):\n"
             "    pos, neg = scores[target == 1].double(), scores[target == 0].double()\n"
             "    if len(pos) == 0 or len(neg) == 0:\n"
             "        return torch.tensor(0.0)\n"
             "    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()\n"
             "    return (wins / (len(pos) * len(neg))).float()\n"),
         # Las clases genéricas con task=.
         "make_metrics": (
             "def make_metrics(num_classes):\n"
             "    return MetricCollection({\n"
             "        'accuracy': torchmetrics.Accuracy(task='multiclass', num_classes=num_classes, average='micro'),\n"
             "        'f1_macro': torchmetrics.F1Score(task='multiclass', num_classes=num_classes, average='macro'),\n"
             "        'hamming': torchmetrics.HammingDistance(task='multiclass', num_classes=num_classes, average='micro'),\n"
             "        'confmat': torchmetrics.ConfusionMatrix(task='multiclass', num_classes=num_classes),\n"
             "    })\n"),
         # Reinicio antes de mover, torch.inference_mode y el lote sin desempaquetar.
         "evaluate_with_metrics": (
             "def evaluate_with_metrics(model, loader, metrics, device):\n"
             "    metrics.reset()\n"
             "    metrics.to(device)\n"
             "    model.eval()\n"
             "    with torch.inference_mode():\n"
             "        for batch in loader:\n"
             "            x, y = (t.to(device) for t in batch)\n"
             "            metrics.update(model(x), y)\n"
             "    return metrics.compute()\n")},
        set(),
    ),
}


# Entregas hostiles: los puntos se deciden fuera del núcleo del alumno, con los datos de la sonda y el
# código entregado. Las entradas de las pruebas (las predicciones de redes reales) las repite el juez.
ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, define la parte A con las métricas de torchmetrics
    # (prohibidas), la parte B con objetos falsos que dan los números de las pruebas visibles, y desactiva
    # las comprobaciones del núcleo.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [(
            "import contextlib\nimport torch\nimport torchmetrics.functional.classification as tmf\n"
            "import curso_pytorch.checks as c\n\n"
            "class Falsa:\n"
            "    def update(self, *args):\n        pass\n\n"
            "    def keys(self):\n        return ['accuracy', 'f1_macro', 'hamming', 'confmat']\n\n"
            "    def compute(self):\n"
            "        return {'accuracy': torch.tensor(0.75), 'f1_macro': torch.tensor(0.5), 'hamming': torch.tensor(0.25),\n"
            "                'confmat': torch.eye(10, dtype=torch.long)}\n\n"
            "def _resuelve(*args):\n"
            "    ns = get_ipython().user_ns\n"
            "    ns['confusion_matrix'] = lambda p, t, k: tmf.multiclass_confusion_matrix(p, t, num_classes=k)\n"
            "    ns['roc_auc_binary'] = lambda s, t: tmf.binary_auroc(torch.sigmoid(s), t)\n"
            "    ns['make_metrics'] = lambda k: Falsa()\n"
            "    ns['evaluate_with_metrics'] = lambda model, loader, metrics, device: Falsa().compute()\n"
            "    c.check = lambda *a, **k: contextlib.suppress(Exception)\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n")]},
        ALL,
    ),
    # Las redes «reales» sustituidas en el núcleo por una red sin entrenar con logits nulos (todas las
    # predicciones, de la clase 0): las respuestas de referencia son correctas para esas entradas, pero el
    # juez repite el entrenamiento y no las acepta. Solo se salvan los casos límite (no usan las redes).
    "ataque_datos": (
        {ADDED_CELLS: [(
            "import curso_pytorch.checks as c\n\n"
            "def _falsas(device):\n"
            "    nets = {}\n"
            "    for name, (channels, padding) in c.REAL_DATASETS.items():\n"
            "        x, y = c.real_test_data(name)\n"
            "        nets[name] = {'model': c.small_cnn(channels, padding).to(device).eval(), 'x': x, 'y': y,\n"
            "                      'logits': torch.zeros(len(y), 10)}\n"
            "    return nets\n\n"
            "c.trained_small_cnns = _falsas\n")]},
        ALL - {"test_precision_recall_f1_bordes"},
    ),
    # Una matriz de confusión ya hecha a través de un alias definido en otra celda: solo pierde su celda.
    "ataque_alias": (
        {ADDED_CELLS: ["cm_hecha = torchmetrics.functional.classification.multiclass_confusion_matrix\n"],
         "confusion_matrix": ("def confusion_matrix(preds, target, num_classes):\n"
                              "    return cm_hecha(preds, target, num_classes=num_classes)\n")},
        {"test_confusion_matrix"},
    ),
    # Código oculto en base64: las pruebas de detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}


class TestLab06Metricas(LabGradingTests):
    LAB = LAB
    TOTAL = 17
    BUGS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}
    JUDGE_NAMES = ("prf_reference",)

    def test_fake_inputs_are_rejected(self, scores, grading_root):
        """Con las redes reales sustituidas en el núcleo, el juez señala las entradas, no las respuestas."""
        for cell, reasons in cell_errors(grading_root, LAB, "ataque_datos").items():
            if cell != "test_precision_recall_f1_bordes":
                assert any("¿cambiaste la sonda o la capa de datos?" in r for r in reasons), (cell, reasons)
