"""Un cerrojo entre procesos sobre un archivo (``fcntl.flock``).

Lo usan quien construye la copia de CIFAR-10 en la caché y quien escribe en un libro de
calificaciones SQLite. En Windows no hay ``fcntl``: el cerrojo no hace nada (un solo proceso a la
vez, como allí se usa el curso).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


@contextlib.contextmanager
def file_lock(path: Path):
    """Cerrojo exclusivo sobre ``path`` (se crea si falta) mientras dura el bloque."""
    with open(path, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
