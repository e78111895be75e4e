"""Sondas: lo único de las pruebas ocultas que corre en el núcleo del alumno.

Una sonda llama a las funciones y clases del alumno con entradas que elige la prueba y guarda lo
que devuelven (tensores y contenedores simples) en la carpeta de salida que le indica quien
califica, un archivo por clave. No compara nada ni contiene resultados de referencia: decide el
juez (``curso_pytorch.judge``), en un proceso donde nunca corrió código del alumno, que lee esos
archivos con ``torch.load(weights_only=True)``. El alumno puede cambiar esta sonda desde su código;
solo conseguiría entregar otros datos, que el juez compara igual con sus referencias.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
ERROR = "__error__"  # clave del diccionario que sustituye a un valor cuando el código del alumno lanzó algo

_outbox: Path | None = None


def start(folder: str) -> None:
    """Empieza una celda de pruebas: lo que se guarde irá a ``folder`` (lo vacía quien califica)."""
    global _outbox
    _outbox = Path(folder)
    _outbox.mkdir(parents=True, exist_ok=True)


def plain(value, depth: int = 0):
    """``value`` como datos simples: tensores densos (en CPU, sin grafo), números, textos, None y
    listas, tuplas y diccionarios de ellos. Cualquier otro objeto queda como el texto de su tipo
    (el juez dirá qué se esperaba)."""
    if depth > 8:
        return "<demasiado anidado>"
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).to("cpu").clone()
    if type(value) in (bool, int, float, str, type(None)):
        return value
    if type(value) in (list, tuple):
        return type(value)(plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    return f"<objeto {type(value).__name__}>"


def record(key: str, value) -> None:
    """Guarda ``value`` con el nombre ``key`` para el juez."""
    if not KEY.fullmatch(key):
        raise ValueError(f"clave de sonda no válida: {key!r}")
    if _outbox is None:
        raise RuntimeError("la sonda no empezó (start)")
    torch.save(plain(value), _outbox / f"{key}.pt")


def call(key: str, function, *args, **kwargs) -> None:
    """Llama a ``function`` del alumno y guarda lo que devuelve con el nombre ``key``; si lanza una
    excepción, guarda su descripción (el juez la cuenta como fallo)."""
    try:
        value = function(*args, **kwargs)
    except Exception as error:  # el código del alumno: cualquier error es un dato para el juez
        from .course import STUB_MESSAGE
        from .notebook import unsolved

        if isinstance(error, NotImplementedError) and error.args == (STUB_MESSAGE,):
            text = unsolved(error)
        else:
            text = f"tu código lanzó {type(error).__name__}: {str(error)[:300]}"
        record(key, {ERROR: text})
        return
    try:
        record(key, value)
    except Exception as error:  # lo devuelto no se deja convertir (p. ej. un parámetro perezoso sin forma)
        record(key, {ERROR: f"lo que devolvió tu código no se pudo guardar ({type(error).__name__}: {str(error)[:200]})"})
