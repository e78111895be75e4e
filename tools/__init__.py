"""Herramientas del repositorio (no forman parte del paquete que se instala en Colab)."""
