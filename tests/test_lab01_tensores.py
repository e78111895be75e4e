"""Laboratorio 01: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, EXTRA_FILES, LabGradingTests, cell_errors, graded_notebook

LAB = "01_tensores"
ALL = {"test_softmax", "test_cross_entropy", "test_accuracy", "test_sgd_step", "test_entrenamiento_cross_entropy",
       "test_entrenamiento_sgd_step"}

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


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
SGD_CELLS = {"test_sgd_step", "test_entrenamiento_sgd_step"}
CE_CELLS = {"test_cross_entropy", "test_entrenamiento_cross_entropy"}
STATEMENT_BUGS = {
    # «sin NaN ni infinitos aunque haya logits de ±1000»: la exponencial sin restar el máximo.
    "softmax_ingenua": (
        {"softmax": "def softmax(logits):\n    e = torch.exp(logits)\n    return e / e.sum(dim=1, keepdim=True)\n"},
        {"test_softmax"},
    ),
    # «Tensor.log_softmax» (prohibida): la entropía cruzada con el método del tensor.
    "ce_log_softmax_del_tensor": (
        {"cross_entropy": "def cross_entropy(logits, target):\n"
                          "    return -logits.log_softmax(dim=1)[torch.arange(len(target)), target].mean()\n"},
        CE_CELLS,
    ),
    # «la entropía cruzada media»: la suma del lote.
    "ce_suma": (
        {"cross_entropy": [("return (log_norm - correct).mean()", "return (log_norm - correct).sum()")]},
        CE_CELLS,
    ),
    # «como tensor escalar (forma ())»: forma (1,).
    "ce_forma_1": (
        {"cross_entropy": [("return (log_norm - correct).mean()", "return (log_norm - correct).mean().reshape(1)")]},
        {"test_cross_entropy"},
    ),
    # «con logaritmo natural»: en base 2.
    "ce_log2": (
        {"cross_entropy": [("return (log_norm - correct).mean()", "return (log_norm - correct).mean() / 0.6931471805599453")]},
        CE_CELLS,
    ),
    # «derivable con autograd»: un número nuevo, sin grafo.
    "ce_sin_grafo": (
        {"cross_entropy": [("return (log_norm - correct).mean()", "return torch.tensor((log_norm - correct).mean().item())")]},
        CE_CELLS,
    ),
    # «como float de Python»: un tensor.
    "accuracy_tensor": (
        {"accuracy": [("(logits.argmax(dim=1) == target).float().mean().item()",
                       "(logits.argmax(dim=1) == target).float().mean()")]},
        {"test_accuracy"},
    ),
    # «sin registrar la operación en el grafo»: el paso fuera de torch.no_grad().
    "sgd_sin_no_grad": (
        {"sgd_step": [("    with torch.no_grad():\n        for p in params:", "    if True:\n        for p in params:")]},
        SGD_CELLS,
    ),
    # «en el lugar»: un tensor nuevo que no sustituye al parámetro.
    "sgd_fuera_de_lugar": (
        {"sgd_step": [("            p -= lr * p.grad\n            p.grad = None",
                       "            p.grad = None if p.grad is None else p.grad\n            p = p - lr * p.grad")]},
        SGD_CELLS,
    ),
    # «Ignora los parámetros cuyo .grad sea None»: falla con ellos.
    "sgd_grad_none_falla": (
        {"sgd_step": [("            if p.grad is None:\n                continue\n", "")]},
        {"test_sgd_step"},
    ),
    # «Está prohibido usar torch.optim»: el paso con torch.optim.SGD.
    "sgd_con_optim": (
        {"sgd_step": "def sgd_step(params, lr):\n"
                     "    params = [p for p in params if p.grad is not None]\n"
                     "    torch.optim.SGD(params, lr=lr).step()\n"
                     "    for p in params:\n"
                     "        p.grad = None\n"},
        SGD_CELLS,
    ),
}

# Soluciones correctas escritas de otra forma: sacan el máximo.
ALTERNATIVES = {
    # softmax con logsumexp, entropía cruzada con indexación avanzada, exactitud con sum / len y
    # el paso con p.data y sub_.
    "alternativa_logsumexp": (
        {"softmax": "def softmax(logits):\n    return torch.exp(logits - torch.logsumexp(logits, dim=1, keepdim=True))\n",
         "cross_entropy": "def cross_entropy(logits, target):\n"
                          "    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)\n"
                          "    return -log_p[torch.arange(logits.shape[0]), target].mean()\n",
         "accuracy": "def accuracy(logits, target):\n"
                     "    return float((logits.argmax(1) == target).sum()) / len(target)\n",
         "sgd_step": "def sgd_step(params, lr):\n"
                     "    for p in params:\n"
                     "        if p.grad is not None:\n"
                     "            p.data.sub_(lr * p.grad)\n"
                     "            p.grad = None\n"},
        set(),
    ),
}


# Entregas hostiles: cada clase de ataque contra el juez (los puntos se deciden fuera del núcleo del
# alumno, con los datos de la sonda y el código entregado). Sobre la copia en blanco no ganan nada;
# sobre la referencia, el código que se genera u oculta y los alias de lo prohibido pierden puntos.
ATTACKS = {
    # Un resultado («Out») emitido durante cada celda de pruebas: nbgrader lo tomaría como nota parcial.
    "ataque_nota_parcial": (
        {BLANK: True, ADDED_CELLS: ["def _nota(*args):\n    get_ipython().displayhook(12)\n\n"
                                    "get_ipython().events.register('pre_run_cell', _nota)\n"]},
        ALL,
    ),
    # Un gancho de IPython que, antes de cada celda, define las funciones con las de PyTorch.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [
            "import torch\n\ndef _resuelve(*args):\n    ns = get_ipython().user_ns\n"
            "    ns['softmax'] = lambda z: torch.softmax(z, dim=1)\n"
            "    ns['cross_entropy'] = lambda z, t: torch.nn.functional.cross_entropy(z, t)\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n"]},
        ALL,
    ),
    # La sonda sustituida: no llega ningún dato al juez.
    "ataque_sonda": (
        {BLANK: True, ADDED_CELLS: ["import curso_pytorch.probe as p\np.record = lambda key, value: None\n"]},
        ALL,
    ),
    # Archivos junto al cuaderno que sustituirían a torch y al lanzador del núcleo si la carpeta de
    # la entrega fuera la de trabajo; una celda que busca el cuaderno con las pruebas ocultas.
    "ataque_archivos": (
        {EXTRA_FILES: {"torch.py": "raise ImportError('torch falso')\n",
                       "ipykernel_launcher.py": "import os\nos._exit(1)\n"},
         ADDED_CELLS: ["import os\nprint('carpeta de trabajo:', sorted(os.listdir('.')))\n"]},
        set(),
    ),
    # Lo prohibido a través de un alias definido en otra celda: pierden las celdas cuya regla lo
    # prohíbe (softmax y cross_entropy, también su entrenamiento), con un motivo que pide revisarlo.
    "ataque_alias": (
        {ADDED_CELLS: ["sm = torch.softmax\n"], "softmax": "def softmax(logits):\n    return sm(logits, dim=1)\n"},
        {"test_softmax", "test_cross_entropy", "test_entrenamiento_cross_entropy"},
    ),
    # Código oculto en base64 o un nombre calculado: las pruebas de detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
    "ataque_getattr": (
        {ADDED_CELLS: ["f = getattr(torch, 'soft' + 'max')\n"]},
        ALL,
    ),
}
BUGS_AND_ATTACKS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}


class TestLab01Tensores(LabGradingTests):
    LAB = LAB
    TOTAL = 12
    BUGS = BUGS_AND_ATTACKS

    def test_attacks_see_no_hidden_tests(self, scores, grading_root):
        """La carpeta de trabajo del núcleo solo tiene lo que da el laboratorio (ni el cuaderno con
        las pruebas ocultas ni lo entregado junto a él)."""
        nb = graded_notebook(grading_root, LAB, "ataque_archivos")
        listing = next(o.text for c in nb.cells for o in c.get("outputs", []) if "carpeta de trabajo" in o.get("text", ""))
        assert listing.strip() == "carpeta de trabajo: []", listing

    def test_computed_name_asks_for_review(self, scores, grading_root):
        """Un nombre calculado para getattr deja sin puntos todas las pruebas, con un motivo que pide
        revisar la entrega a mano."""
        for cell, reasons in cell_errors(grading_root, LAB, "ataque_getattr").items():
            assert any("«getattr» con un nombre calculado" in r and "revise la entrega a mano" in r
                       for r in reasons), (cell, reasons)
