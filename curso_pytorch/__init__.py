"""Curso de PyTorch en español: ayudas para los cuadernos y herramientas de calificación."""

__version__ = "0.1.0"
