"""Utilidades para las celdas de pruebas (visibles y ocultas) de los laboratorios.

Un fallo dentro de ``check(...)`` se muestra como una sola línea en español, sin la pila de
llamadas: el alumno ve qué comprobación falló, no el código de la prueba oculta.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch

from .notebook import apply_strict_warnings, best_device  # noqa: F401 (best_device: para las pruebas)


class CheckFailed(AssertionError):
    """Una comprobación de la calificación automática no se cumplió."""

    def _render_traceback_(self):
        return [f"\033[31mComprobación fallida\033[0m: {self}"]


@contextlib.contextmanager
def check(description: str):
    """Ejecuta una comprobación; cualquier error se convierte en ``CheckFailed`` con ``description``.

    También silencia los avisos (nbgrader pone a 0 una celda que escribe en stderr), salvo los de
    APIs obsoletas cuando ``CURSO_STRICT_WARNINGS`` pide tratarlos como errores (pruebas y CI).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            apply_strict_warnings()
            yield
    except CheckFailed as error:
        raise CheckFailed(f"{description}: {error}") from None
    except NotImplementedError:
        raise CheckFailed(f"{description}: el ejercicio aún no está resuelto.") from None
    except AssertionError as error:
        detail = f": {error}" if str(error) else ""
        raise CheckFailed(f"{description}{detail}") from None
    except Exception as error:  # el código del alumno lanzó algo inesperado
        raise CheckFailed(f"{description}: tu código lanzó {type(error).__name__}: {error}") from None


def close(actual, expected, *, rtol=1e-5, atol=1e-6, what="el resultado") -> None:
    """Exige que ``actual`` sea un tensor finito con la forma de ``expected`` y valores cercanos."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what} debe ser un torch.Tensor, no {type(actual).__name__}.")
    expected = torch.as_tensor(expected)
    if tuple(actual.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what} tiene forma {tuple(actual.shape)}; se esperaba {tuple(expected.shape)}.")
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(a).all()) and bool(torch.isfinite(e).all()):
        raise CheckFailed(f"{what} contiene NaN o infinitos.")
    gap = (a - e).abs()
    limit = atol + rtol * e.abs()
    if bool((gap > limit).any()):
        raise CheckFailed(f"{what} no coincide con lo esperado (diferencia máxima {gap.max().item():.3g}).")


def scalar_close(actual, expected, *, rel=1e-4, abs_=1e-6, what="el valor") -> None:
    """Exige un número (float, int o tensor de un elemento) cercano a ``expected``."""
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            raise CheckFailed(f"{what} debe ser un único número; tiene forma {tuple(actual.shape)}.")
        actual = actual.item()
    if not isinstance(actual, (int, float)):
        raise CheckFailed(f"{what} debe ser un número, no {type(actual).__name__}.")
    if not math.isfinite(actual) or not math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_):
        raise CheckFailed(f"{what} vale {actual:.6g}; se esperaba {expected:.6g}.")


FORBIDDEN_MODULES = ("nn", "F", "functional", "optim")


def forbidden_uses(func, attributes=(), globals_=FORBIDDEN_MODULES) -> list[str]:
    """Nombres prohibidos que usa ``func`` (también en funciones anidadas).

    ``attributes``: atributos prohibidos (``torch.softmax`` carga el atributo ``softmax``);
    ``globals_``: nombres globales prohibidos (``nn``, ``F``...). Llamar a una función propia
    del alumno con el mismo nombre (``softmax(z)``) está permitido: es un nombre global.
    """
    import dis
    import types

    code = getattr(func, "__code__", None)
    if code is None:
        return []
    found, pending = set(), [code]
    while pending:
        current = pending.pop()
        for ins in dis.get_instructions(current):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in attributes:
                found.add(ins.argval)
            elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in globals_:
                found.add(ins.argval)
            elif ins.opname == "IMPORT_NAME" and any(part in globals_ for part in str(ins.argval).split(".")):
                found.add(ins.argval)
        pending += [c for c in current.co_consts if isinstance(c, types.CodeType)]
    return sorted(found)


def require_no_forbidden(func, attributes=(), globals_=FORBIDDEN_MODULES) -> None:
    used = forbidden_uses(func, attributes, globals_)
    if used:
        raise CheckFailed(
            f"{getattr(func, '__name__', 'la función')} usa lo que el enunciado prohíbe: {', '.join(used)}."
        )
