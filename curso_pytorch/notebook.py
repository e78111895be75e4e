"""Ayudas para la celda de preparación de los cuadernos."""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from typing import NamedTuple

import numpy as np
import torch

from .course import STUB_MESSAGE


def is_grading() -> bool:
    """True mientras nbgrader ejecuta el cuaderno (``autograde`` o ``validate``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def seed_everything(seed: int = 0) -> None:
    """Fija las semillas de Python, NumPy y PyTorch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- APIs obsoletas

#: Variable de entorno que activa el control de APIs obsoletas (las pruebas y CI la ponen a 1).
STRICT_WARNINGS_ENV = "CURSO_STRICT_WARNINGS"

# Módulos a los que se atribuye el aviso: el código de las celdas (``__main__``), el paquete del
# curso y las bibliotecas de PyTorch. Un aviso de obsolescencia que torch emite con
# ``stacklevel=2`` se atribuye a quien llamó a la API obsoleta (una celda); uno que emite sobre sí
# mismo, al módulo de torch que lo lanza.
STRICT_MODULES = r"(__main__|curso_pytorch|torch|torchvision|torchmetrics)(\.|$)"

# torch y torchvision anuncian algunas obsolescencias con UserWarning.
DEPRECATION_MESSAGE = r".*(deprecat|will be removed|no longer supported)"


class AllowedWarning(NamedTuple):
    """Aviso que el control de APIs obsoletas deja pasar, con el motivo."""

    category: type[Warning]
    message: str  # expresión regular, desde el principio del mensaje (sin distinguir mayúsculas)
    module: str  # expresión regular del módulo al que se atribuye el aviso
    reason: str


# Solo avisos que una biblioteca emite sobre su propio código y que el curso no puede evitar.
ALLOWED_WARNINGS: tuple[AllowedWarning, ...] = (
    AllowedWarning(
        FutureWarning,
        r"`torch\.jit\.trace(_method)?` is deprecated",
        r"torch\.jit\._trace$",
        "SummaryWriter.add_graph (torch.utils.tensorboard) traza el modelo con torch.jit.trace, que el propio "
        "PyTorch declara obsoleto; es la única forma de guardar el grafo en TensorBoard y el curso no llama a "
        "torch.jit por su cuenta.",
    ),
)


def strict_warnings_requested() -> bool:
    """True si ``CURSO_STRICT_WARNINGS`` pide tratar como errores los avisos de obsolescencia."""
    return os.environ.get(STRICT_WARNINGS_ENV, "").strip() not in ("", "0")


def deprecations_as_errors() -> None:
    """Convierte en errores los avisos de obsolescencia (DeprecationWarning, FutureWarning y los
    UserWarning que anuncian una obsolescencia) atribuidos a las celdas, al paquete del curso, a
    torch, torchvision o torchmetrics; deja pasar solo ``ALLOWED_WARNINGS``.

    Añade filtros al principio de ``warnings.filters``: dentro de ``warnings.catch_warnings()``
    duran lo que dure el bloque.
    """
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("error", category=category, module=STRICT_MODULES)
    warnings.filterwarnings("error", message=DEPRECATION_MESSAGE, category=UserWarning, module=STRICT_MODULES)
    for allowed in ALLOWED_WARNINGS:  # los últimos en añadirse son los primeros en consultarse
        warnings.filterwarnings("ignore", message=allowed.message, category=allowed.category, module=allowed.module)


def apply_strict_warnings() -> bool:
    """Aplica ``deprecations_as_errors()`` si lo pide ``CURSO_STRICT_WARNINGS``; dice si lo hizo."""
    if strict_warnings_requested():
        deprecations_as_errors()
        return True
    return False


# --------------------------------------------------------------------------- preparación


def best_device() -> torch.device:
    """``cuda`` si hay GPU; si no, ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(seed: int = 0, verbose: bool = True) -> torch.device:
    """Fija semillas y elige dispositivo (``cuda`` si hay GPU, si no ``cpu``).

    Con ``CURSO_STRICT_WARNINGS=1`` (pruebas y CI), el uso de una API obsoleta de torch,
    torchvision o torchmetrics pasa a ser un error (``deprecations_as_errors``).
    """
    apply_strict_warnings()
    seed_everything(seed)
    device = best_device()
    if verbose:
        from .data import data_root

        print(f"PyTorch {torch.__version__} · dispositivo: {device} · datos en: {data_root()}")
    return device


def unsolved(error: BaseException) -> str:
    """Qué falta por resolver, si ``error`` es el del esbozo: «`softmax` aún no está resuelto»."""
    if error.args == (STUB_MESSAGE,):
        return f"`{stub_owner(error)}` aún no está resuelto"
    return "el ejercicio aún no está resuelto"


def stub_owner(error: BaseException) -> str:
    """Nombre de la función (o método) cuyo esbozo lanzó ``error``."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "una parte del ejercicio"
    code = tb.tb_frame.f_code
    return getattr(code, "co_qualname", code.co_name)


@contextlib.contextmanager
def demo():
    """Bloque de una celda de demostración (no calificada) que usa funciones del ejercicio.

    Si una de ellas aún es el esbozo de la copia del alumno, lo dice en una línea y la celda
    termina sin error, así que «Ejecutar todo» sigue hasta las pruebas. Cualquier otro error
    (también un ``NotImplementedError`` que no sea el del esbozo) se propaga tal cual.
    """
    try:
        yield
    except NotImplementedError as error:
        if error.args != (STUB_MESSAGE,):
            raise
        print(f"Esta demostración necesita `{stub_owner(error)}`, que aún no está resuelto.")


def progress(iterable, **options):
    """Barra de progreso (``tqdm.auto``) que se calla durante la calificación automática."""
    from tqdm.auto import tqdm

    options.setdefault("disable", is_grading())
    return tqdm(iterable, **options)
