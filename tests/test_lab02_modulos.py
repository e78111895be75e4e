"""Laboratorio 02: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte."""

from tests.grading import LabGradingTests

LAB = "02_modulos"

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


class TestLab02Modulos(LabGradingTests):
    LAB = LAB
    TOTAL = 15
    BUGS = BUGS
