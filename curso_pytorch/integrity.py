"""Defensa de las pruebas frente a un cuaderno que manipula su entorno.

Durante la calificación, el núcleo importa este módulo antes de ejecutar nada del alumno
(``--IPKernelApp.exec_lines``) y toma una foto de las funciones de las que dependen las pruebas:
las de ``builtins``, ``torch`` (también los métodos de los tensores), ``torch.nn``,
``torch.nn.functional``, ``numpy``, ``numpy.testing``, las semillas aleatorias, ``sys.exit``,
``os._exit`` y las ayudas del curso (``curso_pytorch.checks``, ``.data``, ``.notebook``).

Antes de cada celda de pruebas se restaura la foto: lo que el alumno haya redefinido en sus
celdas deja de tener efecto (queda neutralizado). Si durante la celda de pruebas algo vuelve a
cambiar (una función del alumno que redefine ``torch.allclose`` al ser llamada, por ejemplo),
la celda falla y no puntúa.
"""

from __future__ import annotations

import builtins
import importlib
import sys

import numpy
import numpy.random
import numpy.testing
import torch
import torch.nn
import torch.nn.functional
import torch.optim
import torch.testing

from . import checks, data, notebook

# Módulo -> nombres vigilados (None = todos los que tenga al hacer la foto).
WATCHED = {
    "builtins": None,
    "torch": None,
    "torch.nn": None,
    "torch.nn.functional": None,
    "torch.optim": None,
    "torch.testing": None,
    "numpy": None,
    "numpy.testing": None,
    "numpy.random": ("seed", "default_rng", "rand", "randn", "randint"),
    "random": ("seed", "random", "randint", "shuffle"),
    "math": None,
    "sys": ("exit",),
    "os": ("_exit", "kill", "system"),
    "curso_pytorch.checks": None,
    "curso_pytorch.data": None,
    "curso_pytorch.notebook": None,
}
# Clases cuyos métodos usan las pruebas (``tensor.abs()``, ``a == b``...).
WATCHED_CLASSES = (torch.Tensor, torch._C.TensorBase, torch.nn.Module)

# Atributos que las propias bibliotecas cambian al usarse: no son manipulación.
VOLATILE = {"builtins": {"_", "__", "___", "__IPYTHON__", "display", "get_ipython", "exit", "quit", "copyright", "credits", "license", "help"}}

_PRISTINE: dict[tuple[str, str], object] = {}
_CLASSES: dict[type, dict[str, object]] = {}


def _module(name: str):
    return sys.modules.get(name) or importlib.import_module(name)


def preload(modules) -> None:
    """Importa ya los módulos que importa el laboratorio (``lesson_cells.course_imports``): el
    núcleo arrancado de antemano llega con ellos a la entrega. Uno que falte se deja para la celda
    que lo importe, que dará su error como siempre."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass


def snapshot() -> None:
    """Foto de lo vigilado. Se toma una sola vez, antes del código del alumno."""
    if _PRISTINE:
        return
    for name, attributes in WATCHED.items():
        namespace = vars(_module(name))
        skip = VOLATILE.get(name, set())
        for attribute in attributes or list(namespace):
            if attribute in namespace and attribute not in skip and not attribute.startswith("__"):
                _PRISTINE[(name, attribute)] = namespace[attribute]
    for cls in WATCHED_CLASSES:
        _CLASSES[cls] = dict(vars(cls))


def _changes(restore: bool) -> list[str]:
    changed = []
    for (name, attribute), original in _PRISTINE.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        namespace = vars(module)
        if namespace.get(attribute, _MISSING) is not original:
            changed.append(f"{name}.{attribute}")
            if restore:
                namespace[attribute] = original
    for cls, members in _CLASSES.items():
        current = vars(cls)
        for attribute, original in members.items():
            if current.get(attribute, _MISSING) is not original:
                changed.append(f"{cls.__name__}.{attribute}")
                if restore:
                    type.__setattr__(cls, attribute, original)
    return changed


_MISSING = object()


def before_tests(namespace: dict) -> list[str]:
    """Antes de una celda de pruebas: restaura lo vigilado. Devuelve lo que estaba cambiado."""
    changed = _changes(restore=True)
    for key in ("__builtins__",):
        if namespace.get(key) not in (builtins, vars(builtins)):
            namespace[key] = builtins
            changed.append(key)
    return changed


def after_tests() -> None:
    """Después de una celda de pruebas: si el código del alumno cambió algo, la celda no puntúa."""
    changed = _changes(restore=True)
    if changed:
        shown = ", ".join(changed[:5]) + ("..." if len(changed) > 5 else "")
        raise checks.CheckFailed(
            f"tu código modificó durante la prueba funciones de las que dependen las pruebas ({shown}); "
            "esta celda no puntúa."
        )


__all__ = ["snapshot", "before_tests", "after_tests", "notebook", "data"]
