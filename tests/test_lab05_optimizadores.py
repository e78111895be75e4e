"""Laboratorio 05: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "05_optimizadores"

SGD_CELLS = {"test_sgd", "test_sgd_momentum", "test_sgd_nesterov", "test_sgd_grupos_estado",
             "test_entrenamiento_sgd"}

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
}


class TestLab05Optimizadores(LabGradingTests):
    LAB = LAB
    TOTAL = 20
    BUGS = BUGS
