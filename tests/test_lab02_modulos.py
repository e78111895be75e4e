"""Laboratorio 02: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, LabGradingTests

LAB = "02_modulos"
ALL = {"test_forma_salida", "test_registro_parametros", "test_dropout_modos", "test_count_parameters",
       "test_init_weights", "test_entrenamiento_cifar"}

BUGS = {
    # Bloques en una lista de Python: la red funciona hacia delante, pero sus capas
    # convolucionales no están registradas (ni optimizador, ni .to(), ni state_dict, ni eval()).
    # Pierde el registro y el entrenamiento (solo aprendería la capa lineal final; en GPU,
    # además, las capas no se moverían al dispositivo).
    "lista_python": (
        {"cifar_cnn": [("self.blocks = nn.ModuleList(blocks)", "self.blocks = blocks")]},
        {"test_registro_parametros", "test_entrenamiento_cifar"},
    ),
    # Tamaño de la entrada de la capa lineal escrito a mano para la configuración por defecto:
    # funciona con channels=(8, 16) y falla con cualquier otra.
    "flatten_fijo": (
        {"cifar_cnn": [("nn.Linear(in_channels * side * side, 10)", "nn.Linear(16 * 8 * 8, 10)")]},
        {"test_forma_salida"},
    ),
    # Dropout funcional sin training=self.training: sigue activo en modo eval.
    "dropout_en_eval": (
        {"cifar_cnn": [("self.dropout = nn.Dropout(dropout)", "self.p = dropout"),
                       ("return self.classifier(self.dropout(x))",
                        "return self.classifier(nn.functional.dropout(x, self.p))")]},
        {"test_dropout_modos"},
    ),
    # Cuenta también los parámetros congelados.
    "cuenta_congelados": (
        {"count_parameters": [(" if p.requires_grad)", ")")]},
        {"test_count_parameters"},
    ),
    # Inicializa «todo lo que tenga peso»: también el peso y el sesgo de BatchNorm.
    "init_toca_batchnorm": (
        {"init_weights": (
            "def init_weights(module):\n"
            "    if getattr(module, 'weight', None) is not None:\n"
            "        if module.weight.dim() > 1:\n"
            "            nn.init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')\n"
            "        else:\n"
            "            nn.init.normal_(module.weight)\n"
            "    if getattr(module, 'bias', None) is not None:\n"
            "        nn.init.zeros_(module.bias)\n"
        )},
        {"test_init_weights"},
    ),
}


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «salvo las capas perezosas (nn.Lazy*)»: la capa final perezosa.
    "lineal_perezosa": (
        {"cifar_cnn": [("self.classifier = nn.Linear(in_channels * side * side, 10)",
                        "self.classifier = nn.LazyLinear(10)")]},
        {"test_forma_salida", "test_registro_parametros", "test_entrenamiento_cifar"},
    ),
    # «en este orden: Conv2d, BatchNorm2d, ReLU y MaxPool2d»: la ReLU antes de la normalización. Con
    # sus propios pesos puestos en la red del enunciado, la salida cambia; entrenada, se parece.
    "relu_antes_de_batchnorm": (
        {"cifar_cnn": [("                nn.BatchNorm2d(out_channels),\n                nn.ReLU(),\n",
                        "                nn.ReLU(),\n                nn.BatchNorm2d(out_channels),\n")]},
        {"test_registro_parametros"},
    ),
    # «(con sesgo ...)»: convoluciones sin sesgo.
    "conv_sin_sesgo": (
        {"cifar_cnn": [("nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)",
                        "nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)")]},
        {"test_registro_parametros", "test_entrenamiento_cifar"},
    ),
    # «dropout con probabilidad dropout»: siempre 0.25 (también el registro prueba CifarCNN(dropout=0.0)
    # en modo train).
    "dropout_fijo": (
        {"cifar_cnn": [("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Dropout(0.25)")]},
        {"test_dropout_modos", "test_registro_parametros"},
    ),
    # «No añadas otras capas»: una capa lineal de más al final.
    "capa_de_mas": (
        {"cifar_cnn": [("return self.classifier(self.dropout(x))", "return self.extra(self.classifier(self.dropout(x)))"),
                       ("self.classifier = nn.Linear(in_channels * side * side, 10)",
                        "self.classifier = nn.Linear(in_channels * side * side, 10)\n        self.extra = nn.Linear(10, 10)")]},
        {"test_registro_parametros", "test_entrenamiento_cifar"},
    ),
    # «un int de Python»: un tensor.
    "cuenta_tensor": (
        {"count_parameters": [("return sum(p.numel() for p in model.parameters() if p.requires_grad)",
                               "return torch.tensor(sum(p.numel() for p in model.parameters() if p.requires_grad))")]},
        {"test_count_parameters"},
    ),
    # «los búferes no cuentan»: suma también las medias y varianzas de BatchNorm.
    "cuenta_buferes": (
        {"count_parameters": [("if p.requires_grad)", "if p.requires_grad) + sum(b.numel() for b in model.buffers())")]},
        {"test_count_parameters"},
    ),
    # «mode="fan_in"»: fan_out.
    "init_fan_out": (
        {"init_weights": [('mode="fan_in"', 'mode="fan_out"')]},
        {"test_init_weights"},
    ),
    # «su sesgo, si lo tiene, a cero»: falla con las capas sin sesgo.
    "init_sesgo_sin_comprobar": (
        {"init_weights": [("        if module.bias is not None:\n            nn.init.zeros_(module.bias)",
                           "        nn.init.zeros_(module.bias)")]},
        {"test_init_weights"},
    ),
}

# Soluciones correctas escritas de otra forma: sacan el máximo.
ALTERNATIVES = {
    # Toda la red en un solo nn.Sequential con nn.Flatten, el dropout funcional con
    # training=self.training, el recuento con un bucle y la inicialización con type().
    "alternativa_secuencial": (
        {"cifar_cnn": (
            "class CifarCNN(nn.Module):\n"
            "    def __init__(self, channels=(8, 16), dropout=0.25):\n"
            "        super().__init__()\n"
            "        layers, c_in = [], 3\n"
            "        for c in channels:\n"
            "            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]\n"
            "            c_in = c\n"
            "        self.features = nn.Sequential(*layers, nn.Flatten())\n"
            "        self.p = dropout\n"
            "        self.fc = nn.Linear(c_in * (32 >> len(channels)) ** 2, 10)\n\n"
            "    def forward(self, x):\n"
            "        x = self.features(x)\n"
            "        return self.fc(nn.functional.dropout(x, self.p, training=self.training))\n"),
         "count_parameters": (
            "def count_parameters(model):\n"
            "    total = 0\n"
            "    for p in model.parameters():\n"
            "        if p.requires_grad:\n"
            "            total += p.numel()\n"
            "    return total\n"),
         "init_weights": (
            "def init_weights(module):\n"
            "    if type(module) in (nn.Conv2d, nn.Linear):\n"
            "        nn.init.kaiming_normal_(module.weight, nonlinearity='relu')\n"
            "        if module.bias is not None:\n"
            "            module.bias.data.zero_()\n")},
        set(),
    ),
}


# Entregas hostiles: los puntos se deciden fuera del núcleo del alumno, con los datos de la sonda y
# el código entregado. Sobre la copia en blanco no ganan nada; sobre la referencia, el código que se
# genera u oculta deja sin puntos las pruebas que vienen detrás.
ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, define las respuestas (CifarCNN con una capa
    # perezosa, prohibida por el enunciado) y desactiva las comprobaciones del núcleo.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [
            "import contextlib\nimport torch\nimport torch.nn as nn\nimport curso_pytorch.checks as c\n\n"
            "class Red(nn.Module):\n    def __init__(self, channels=(8, 16), dropout=0.25):\n"
            "        super().__init__()\n        self.fc = nn.LazyLinear(10)\n\n"
            "    def forward(self, x):\n        return self.fc(torch.flatten(x, 1))\n\n"
            "def _resuelve(*args):\n    ns = get_ipython().user_ns\n    ns['CifarCNN'] = Red\n"
            "    ns['count_parameters'] = lambda model: 11690\n    ns['init_weights'] = lambda module: None\n"
            "    c.check = lambda *a, **k: contextlib.suppress(Exception)\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n"]},
        ALL,
    ),
    # Un resultado («Out») emitido durante cada celda de pruebas: nbgrader lo tomaría como nota parcial.
    "ataque_nota_parcial": (
        {BLANK: True, ADDED_CELLS: ["def _nota(*args):\n    get_ipython().displayhook(12)\n\n"
                                    "get_ipython().events.register('pre_run_cell', _nota)\n"]},
        ALL,
    ),
    # Código oculto en base64: las pruebas de detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}
BUGS_AND_ATTACKS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}


class TestLab02Modulos(LabGradingTests):
    LAB = LAB
    TOTAL = 15
    BUGS = BUGS_AND_ATTACKS
