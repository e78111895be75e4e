"""Laboratorio 04: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, LabGradingTests, cell_errors

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


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «Con cualquier otro valor lanza ValueError»: una reducción desconocida se toma por la media.
    "reduccion_desconocida_es_media": (
        {"reduce_loss": [("    raise ValueError(f\"reduction debe ser 'mean', 'sum' o 'none', no {reduction!r}\")",
                          "    return values.mean()")]},
        {"test_reduce_loss"},
    ),
    # «"mean" (por defecto)»: mse suma si no se le dice otra cosa.
    # «"sum" → suma»: reduce_loss devuelve la media también con "sum" (y la usan las demás pérdidas).
    "reduccion_suma_como_media": (
        {"reduce_loss": [('    if reduction == "sum":\n        return values.sum()\n',
                          '    if reduction == "sum":\n        return values.mean()\n')]},
        ALL - {"test_entrenamiento_cross_entropy", "test_entrenamiento_hinge"},
    ),
    # «error cuadrático medio, como nn.MSELoss»: el error absoluto en lugar del cuadrado.
    "mse_sin_cuadrado": (
        {"mse": [("reduce_loss((input - target) ** 2, reduction)", "reduce_loss((input - target).abs(), reduction)")]},
        {"test_mse"},
    ),
    "mse_por_defecto_suma": (
        {"mse": [('def mse(input, target, reduction="mean"):', 'def mse(input, target, reduction="sum"):')]},
        {"test_mse"},
    ),
    # «con "none", la misma forma»: mse aplana las pérdidas sin reducir.
    "mse_none_aplanado": (
        {"mse": [("reduce_loss((input - target) ** 2, reduction)", "reduce_loss(((input - target) ** 2).flatten(), reduction)")]},
        {"test_mse"},
    ),
    # «derivable con autograd»: mae corta el grafo.
    "mae_sin_grafo": (
        {"mae": [("reduce_loss((input - target).abs(), reduction)", "reduce_loss((input - target).abs().detach(), reduction)")]},
        {"test_mae"},
    ),
    # «devuelven un tensor escalar (forma ())»: mae devuelve un tensor de forma (1,).
    "mae_forma_1": (
        {"mae": [("return reduce_loss((input - target).abs(), reduction)",
                  "out = reduce_loss((input - target).abs(), reduction)\n"
                  "    return out if reduction == 'none' else out.reshape(1)")]},
        {"test_mae"},
    ),
    # «la reducción de target - input»: el signo al revés.
    "mbe_input_menos_target": (
        {"mbe": [("reduce_loss(target - input, reduction)", "reduce_loss(input - target, reduction)")]},
        {"test_mbe"},
    ),
    # «como nn.HuberLoss(delta=delta)»: delta fijo en 1.
    "huber_delta_fijo": (
        {"huber": [("    error = (input - target).abs()\n", "    error = (input - target).abs()\n    delta = 1.0\n")]},
        {"test_huber"},
    ),
    # «como nn.MultiMarginLoss(margin=margin)»: margen fijo en 1 (el entrenamiento usa el de por defecto).
    "bisagra_margen_fijo": (
        {"hinge_multiclass": [("(margin - correct + scores)", "(1.0 - correct + scores)")]},
        {"test_hinge_multiclass"},
    ),
    # «con "none", forma (N,)»: la bisagra sin reducir queda con forma (N, 1).
    "bisagra_none_n_por_1": (
        {"hinge_multiclass": [("return reduce_loss(per_sample, reduction)",
                               "return reduce_loss(per_sample.view(-1, 1), reduction)")]},
        {"test_hinge_multiclass"},
    ),
    # «softmax/log_softmax en cualquiera de sus formas»: el método log_softmax del tensor.
    "log_softmax_del_tensor": (
        {"cross_entropy": [("    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n",
                            "    log_probs = logits.log_softmax(dim=1)\n")]},
        CE_CELLS,
    ),
    # «w_k» en el término del suavizado: los pesos solo en el término de la clase correcta.
    "suavizado_sin_pesos": (
        {"cross_entropy": [("smooth = -(log_probs * weight).sum(dim=1) / num_classes",
                            "smooth = -log_probs.sum(dim=1) / num_classes")]},
        {"test_cross_entropy_smoothing"},
    ),
}

# Soluciones correctas escritas de otra forma: sacan el máximo (ninguna celda pierde puntos).
ALTERNATIVES = {
    # logsumexp (el enunciado lo permite) e indexación avanzada en lugar de gather.
    "alternativa_logsumexp": (
        {"cross_entropy": (
            "def cross_entropy(logits, target, weight=None, label_smoothing=0.0, reduction='mean'):\n"
            "    n, c = logits.shape\n"
            "    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)\n"
            "    w = torch.ones(c, dtype=logits.dtype, device=logits.device) if weight is None else weight\n"
            "    w_y = w[target]\n"
            "    picked = log_probs[torch.arange(n, device=logits.device), target]\n"
            "    losses = -(1 - label_smoothing) * w_y * picked - label_smoothing / c * (log_probs * w).sum(dim=1)\n"
            "    if reduction == 'mean':\n"
            "        return losses.sum() / w_y.sum()\n"
            "    return reduce_loss(losses, reduction)\n")},
        set(),
    ),
    # Huber con clamp (la parte cuadrática hasta delta y la lineal a partir de ahí) y reducciones
    # con un diccionario.
    "alternativa_clamp": (
        {"reduce_loss": (
            "def reduce_loss(values, reduction='mean'):\n"
            "    reducers = {'mean': torch.mean, 'sum': torch.sum, 'none': lambda v: v}\n"
            "    if reduction not in reducers:\n"
            "        raise ValueError(reduction)\n"
            "    return reducers[reduction](values)\n"),
         "huber": (
            "def huber(input, target, delta=1.0, reduction='mean'):\n"
            "    e = (input - target).abs()\n"
            "    q = e.clamp(max=delta)\n"
            "    return reduce_loss(0.5 * q ** 2 + delta * (e - q), reduction)\n"),
         "hinge_multiclass": (
            "def hinge_multiclass(scores, target, margin=1.0, reduction='mean'):\n"
            "    n, c = scores.shape\n"
            "    correct = scores[torch.arange(n, device=scores.device), target].unsqueeze(1)\n"
            "    m = torch.clamp(margin - correct + scores, min=0)\n"
            "    m = m.scatter(1, target.unsqueeze(1), 0.0)\n"
            "    return reduce_loss(m.sum(dim=1) / c, reduction)\n")},
        set(),
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
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}


class TestLab04Perdidas(LabGradingTests):
    LAB = LAB
    TOTAL = 18
    BUGS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}

    def test_hook_loses_for_the_forbidden_losses(self, scores, grading_root):
        """El gancho no gana nada: en cada celda, el juez señala la celda añadida que usa lo prohibido."""
        for cell, reasons in cell_errors(grading_root, LAB, "ataque_gancho").items():
            assert any("escrita o cambiada por ti" in r for r in reasons), (cell, reasons)
