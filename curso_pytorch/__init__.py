"""Curso de PyTorch en español: ayudas para los cuadernos y herramientas de calificación."""

import sys

__version__ = "0.1.0"

# jsonschema (lo usa nbformat) compila al importarse la gramática de las IRI (rfc3987-syntax): unos
# 2,5 s en cada proceso para un formato que ningún esquema de cuadernos ni de nbgrader usa. Sin ella,
# jsonschema simplemente no comprueba ese formato.
sys.modules.setdefault("rfc3987_syntax", None)
