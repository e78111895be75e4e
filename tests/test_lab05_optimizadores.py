"""Laboratorio 05: la referencia saca el máximo, la copia en blanco 0, cada error típico pierde
exactamente los puntos de su parte, otras soluciones correctas sacan el máximo y las entregas hostiles
no ganan nada."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, LabGradingTests, cell_errors

LAB = "05_optimizadores"

SGD_CELLS = {"test_sgd", "test_sgd_momentum", "test_sgd_nesterov", "test_sgd_grupos_estado",
             "test_entrenamiento_sgd"}
ADAMW_CELLS = {"test_adamw", "test_adamw_weight_decay", "test_adamw_grupos_estado", "test_entrenamiento_adamw"}
ALL = SGD_CELLS | ADAMW_CELLS | {"test_make_scheduler", "test_train_one_epoch"}

BUGS = {
    # Búfer de momento creado con ceros y actualizado ya en el primer paso: el primer búfer
    # vale (1 - dampening) * g en lugar de g. Solo se nota con dampening != 0, que es la
    # combinación que prueba test_sgd_momentum; Nesterov (dampening = 0 por definición), los
    # grupos (comparación consigo mismo) y el entrenamiento (dampening = 0) no lo ven.
    "buffer_momento_a_cero": (
        {"sgd_momentum": [(
            '                        if "momentum_buffer" not in state:\n'
            '                            buf = g.clone()\n'
            '                            state["momentum_buffer"] = buf\n'
            '                        else:\n'
            '                            buf = state["momentum_buffer"]\n'
            '                            buf.mul_(mu).add_(g, alpha=1 - group["dampening"])\n',
            '                        if "momentum_buffer" not in state:\n'
            '                            state["momentum_buffer"] = torch.zeros_like(p)\n'
            '                        buf = state["momentum_buffer"]\n'
            '                        buf.mul_(mu).add_(g, alpha=1 - group["dampening"])\n',
        )]},
        {"test_sgd_momentum"},
    ),
    # Nesterov que usa el búfer (como el momento clásico) en lugar de g + μ·b.
    "nesterov_sin_anticipacion": (
        {"sgd_momentum": [("g = g.add(buf, alpha=mu)", "g = buf")]},
        {"test_sgd_nesterov"},
    ),
    # Actualización sin torch.no_grad(): p.add_ sobre una hoja con requires_grad lanza
    # RuntimeError en el primer paso, así que SGDMomentum entero deja de funcionar: pierde
    # todas las celdas que lo usan, y ninguna de AdamW, el planificador o el bucle.
    "sin_no_grad": (
        {"sgd_momentum": [("        with torch.no_grad():\n", "        if True:\n")]},
        SGD_CELLS,
    ),
    # Decaimiento L2 (sumado al gradiente, como Adam) en lugar de desacoplado: falla la
    # igualdad con weight_decay != 0 y el entrenamiento (AdamW con weight_decay=1e-2 por defecto
    # se aleja de torch.optim.AdamW un 8-13 % en la pérdida media, frente a la tolerancia del 4 % + 0.01).
    "adamw_con_l2": (
        {"adamw": [("                    p.mul_(1 - lr * wd)\n",
                    "                    g = g.add(p, alpha=wd)\n")]},
        {"test_adamw_weight_decay", "test_entrenamiento_adamw"},
    ),
    # Sin corrección del sesgo: toda actualización de AdamW es distinta (y los primeros pasos,
    # 3-6 veces mayores); la celda de grupos y estado compara AdamW consigo mismo y no la pierde.
    "sin_correccion_sesgo": (
        {"adamw": [("bias1 = 1 - beta1 ** t", "bias1 = 1.0"), ("bias2 = 1 - beta2 ** t", "bias2 = 1.0")]},
        {"test_adamw", "test_adamw_weight_decay", "test_entrenamiento_adamw"},
    ),
    # Ignora los grupos: lee lr, weight_decay y eps de self.defaults.
    "ignora_grupos": (
        {"adamw": [('lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]',
                    'lr, wd, eps = self.defaults["lr"], self.defaults["weight_decay"], self.defaults["eps"]')]},
        {"test_adamw_grupos_estado"},
    ),
    # Media de las medias de los lotes: con un último lote más pequeño no es la pérdida media por
    # ejemplo que pide el enunciado (la regla del laboratorio 03).
    "media_de_medias": (
        {"train_one_epoch": [("        total += loss.item() * len(yb)\n        seen += len(yb)\n",
                              "        total += loss.item()\n        seen += 1\n")]},
        {"test_train_one_epoch"},
    ),
    # El planificador avanza antes que el optimizador dentro del bucle: el primer valor de la
    # planificación nunca se usa (cada paso usa la tasa del siguiente).
    "planificador_antes_del_optimizador": (
        {"train_one_epoch": [(
            "        optimizer.step()\n        if scheduler is not None:\n            scheduler.step()\n",
            "        if scheduler is not None:\n            scheduler.step()\n        optimizer.step()\n",
        )]},
        {"test_train_one_epoch"},
    ),
    # Calentamiento de round(T/10) pasos en lugar de ⌊T/10⌋: con T = 18 y T = 35 son distintos.
    "calentamiento_redondeado": (
        {"make_scheduler": [("warmup = max(1, total // 10)", "warmup = max(1, round(total / 10))")]},
        {"test_make_scheduler"},
    ),
    # Sin model.train(): la sonda le da el modelo en modo evaluación y así se queda.
    "sin_model_train": (
        {"train_one_epoch": [("    model.train()\n", "")]},
        {"test_train_one_epoch"},
    ),
    # Un solo contador de pasos para todo el optimizador en lugar de uno por parámetro: la corrección
    # del sesgo de un parámetro que recibe gradiente tarde empieza mal, y el contador no se guarda en
    # state_dict. Con gradiente en todos los pasos (igualdad y entrenamiento) da lo mismo.
    "paso_global_adamw": (
        {"adamw": [("            for group in self.param_groups:\n                lr, wd, eps",
                    "            self.t = getattr(self, 't', 0) + 1\n"
                    "            for group in self.param_groups:\n                lr, wd, eps"),
                   ('                    state["step"] += 1\n', '                    state["step"] = self.t\n')]},
        {"test_adamw_grupos_estado"},
    ),
}

# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «decaimiento L2 sumado al gradiente»: SGDMomentum no aplica weight_decay. Lo ven las igualdades
    # con decaimiento y los grupos (frente a torch.optim.SGD con weight_decay); el entrenamiento, con
    # weight_decay=5e-4, no.
    "sgd_sin_decaimiento": (
        {"sgd_momentum": [('                    if group["weight_decay"] != 0:\n'
                           '                        g = g.add(p, alpha=group["weight_decay"])\n', "")]},
        {"test_sgd", "test_sgd_momentum", "test_sgd_nesterov", "test_sgd_grupos_estado"},
    ),
    # «guardado en self.state[p]["momentum_buffer"]»: el búfer, con otro nombre.
    "buffer_con_otro_nombre": (
        {"sgd_momentum": [('"momentum_buffer" not in state', '"buffer" not in state'),
                          ('state["momentum_buffer"] = buf', 'state["buffer"] = buf'),
                          ('buf = state["momentum_buffer"]', 'buf = state["buffer"]')]},
        {"test_sgd_grupos_estado"},
    ),
    # «ε sumado después de la raíz»: ε dentro de la raíz de v̂.
    "eps_dentro_de_la_raiz": (
        {"adamw": [("denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)", "denom = (v / bias2 + eps).sqrt()")]},
        {"test_adamw", "test_adamw_weight_decay"},
    ),
    # «saltar los parámetros sin gradiente»: AdamW toma un gradiente ausente por cero, así que el
    # decaimiento mueve el parámetro y su estado avanza.
    "sin_gradiente_como_cero": (
        {"adamw": [("                    if p.grad is None:\n                        continue\n"
                    "                    g = p.grad\n",
                    "                    g = p.grad if p.grad is not None else torch.zeros_like(p)\n")]},
        {"test_adamw_grupos_estado"},
    ),
    # La fórmula del calentamiento: empieza desde 0 en lugar de desde η/10.
    "calentamiento_desde_cero": (
        {"make_scheduler": [("return 0.1 + 0.9 * t / warmup", "return t / warmup")]},
        {"test_make_scheduler"},
    ),
}


# Soluciones correctas escritas de otra manera, en una sola entrega para no alargar la calificación:
# SGD sin operaciones en el lugar salvo la actualización, AdamW con la corrección del sesgo en la forma
# de ε̂ y el paso como tensor (como PyTorch), el planificador sugerido con SequentialLR y otro bucle.
ALTERNATIVE_CHANGES = {
    "sgd_momentum": [(
        "                    g = p.grad\n"
        "                    if group[\"weight_decay\"] != 0:\n"
        "                        g = g.add(p, alpha=group[\"weight_decay\"])\n"
        "                    if mu != 0:\n"
        "                        state = self.state[p]\n"
        "                        if \"momentum_buffer\" not in state:\n"
        "                            buf = g.clone()\n"
        "                            state[\"momentum_buffer\"] = buf\n"
        "                        else:\n"
        "                            buf = state[\"momentum_buffer\"]\n"
        "                            buf.mul_(mu).add_(g, alpha=1 - group[\"dampening\"])\n"
        "                        if group[\"nesterov\"]:\n"
        "                            g = g.add(buf, alpha=mu)\n"
        "                        else:\n"
        "                            g = buf\n"
        "                    p.add_(g, alpha=-lr)\n",
        "                    g = p.grad + group[\"weight_decay\"] * p\n"
        "                    if mu != 0:\n"
        "                        old = self.state[p].get(\"momentum_buffer\")\n"
        "                        buf = g.clone() if old is None else mu * old + (1 - group[\"dampening\"]) * g\n"
        "                        self.state[p][\"momentum_buffer\"] = buf\n"
        "                        g = g + mu * buf if group[\"nesterov\"] else buf\n"
        "                    p.sub_(lr * g)\n",
    )],
    "adamw": [
        ('                        state["step"] = 0\n', '                        state["step"] = torch.tensor(0.0)\n'),
        ("                    t = state[\"step\"]\n", "                    t = state[\"step\"].item()\n"),
        ("                    denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)\n"
         "                    p.addcdiv_(m, denom, value=-lr / bias1)\n",
         "                    step_size = lr * math.sqrt(bias2) / bias1\n"
         "                    p.addcdiv_(m, v.sqrt() + eps * math.sqrt(bias2), value=-step_size)\n"),
    ],
    "make_scheduler": (
        "def make_scheduler(optimizer, epochs, steps_per_epoch):\n"
        "    total = epochs * steps_per_epoch\n"
        "    warmup = max(1, total // 10)\n"
        "    S = torch.optim.lr_scheduler\n"
        "    return S.SequentialLR(optimizer, [S.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),\n"
        "                                      S.CosineAnnealingLR(optimizer, T_max=total - warmup)],\n"
        "                          milestones=[warmup])\n"),
    "train_one_epoch": (
        "def train_one_epoch(model, loader, loss_fn, optimizer, scheduler=None):\n"
        "    model.train()\n"
        "    device = next(model.parameters()).device\n"
        "    losses, sizes = [], []\n"
        "    for batch in loader:\n"
        "        xb, yb = (t.to(device) for t in batch)\n"
        "        optimizer.zero_grad(set_to_none=True)\n"
        "        loss = loss_fn(model(xb), yb)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        if scheduler:\n"
        "            scheduler.step()\n"
        "        losses.append(loss.detach() * len(xb))\n"
        "        sizes.append(len(xb))\n"
        "    return (torch.stack(losses).sum() / sum(sizes)).item()\n"),
}
ALTERNATIVES = {"alternativas_correctas": (ALTERNATIVE_CHANGES, set())}


# Entregas hostiles contra el juez: los puntos se deciden fuera del núcleo del alumno, con los datos de
# la sonda y el código entregado. El enunciado prohíbe los optimizadores de PyTorch en las dos clases,
# así que una celda añadida que los use deja sin puntos las celdas de las dos clases.
ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, pone los optimizadores de PyTorch en lugar de las
    # clases: los datos de la sonda serían correctos, pero la celda añadida usa lo prohibido.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [
            "import torch\n\n"
            "def _resuelve(*args):\n"
            "    ns = get_ipython().user_ns\n"
            "    ns['SGDMomentum'], ns['AdamW'] = torch.optim.SGD, torch.optim.AdamW\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n"]},
        ALL,
    ),
    # La función del curso que usa la sonda, sustituida en el núcleo por una que pone el AdamW de PyTorch en
    # lugar del propio (que aquí cuenta mal los pasos, un error que las pruebas visibles no ven): los datos
    # de la sonda serían correctos, pero la celda añadida usa lo prohibido.
    "ataque_ayudante": (
        {**BUGS["paso_global_adamw"][0], ADDED_CELLS: [
            "import torch\nimport curso_pytorch.checks as c\n\n"
            "_original = c.optimizer_steps\n\n"
            "def _pasos(make, *args, **kwargs):\n"
            "    def make_torch(params):\n"
            "        made = make(params)\n"
            "        made = made if isinstance(made, list) else [made]\n"
            "        return [torch.optim.AdamW(o.param_groups, **o.defaults) if type(o).__name__ == 'AdamW' else o\n"
            "                for o in made]\n"
            "    return _original(make_torch, *args, **kwargs)\n\n"
            "c.optimizer_steps = _pasos\n"]},
        SGD_CELLS | ADAMW_CELLS,
    ),
    # Un alias del módulo en otra celda (permitido por sí solo) y, en la respuesta, una clase propia que al
    # crearse devuelve el SGD de PyTorch (su herencia, la que ve la sonda, es la pedida): pierde las celdas
    # de SGDMomentum por lo que dice su código.
    "ataque_alias_modulo": (
        {ADDED_CELLS: ["O = torch.optim\n"],
         "sgd_momentum": (
             "class SGDMomentum(torch.optim.Optimizer):\n"
             "    def __new__(cls, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):\n"
             "        return O.SGD(params, lr=lr, momentum=momentum, dampening=dampening,\n"
             "                     weight_decay=weight_decay, nesterov=nesterov, foreach=False)\n")},
        SGD_CELLS,
    ),
    # Código oculto en base64: las pruebas que vienen detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}


class TestLab05Optimizadores(LabGradingTests):
    LAB = LAB
    TOTAL = 20
    BUGS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}
    JUDGE_NAMES = ("torch_steps(",)

    def test_forbidden_optimizers_lose_with_a_reason(self, scores, grading_root):
        """El gancho y el ayudante sustituido no ganan nada: en las celdas de las clases, el juez señala la
        celda añadida que usa lo prohibido; con el alias, la respuesta."""
        for student in ("ataque_gancho", "ataque_ayudante"):
            for cell, reasons in cell_errors(grading_root, LAB, student).items():
                if cell in SGD_CELLS | ADAMW_CELLS:
                    assert any("escrita o cambiada por ti" in r for r in reasons), (student, cell, reasons)
        errors = cell_errors(grading_root, LAB, "ataque_alias_modulo")
        for cell in SGD_CELLS:  # las pruebas visibles pasan: el único error es el del juez
            assert len(errors[cell]) == 1 and "tu respuesta usa «SGD»" in errors[cell][0], (cell, errors[cell])
