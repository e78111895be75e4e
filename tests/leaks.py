"""Las líneas de las soluciones y de las pruebas ocultas de un laboratorio, para comprobar que no
aparecen donde las puede leer el alumno (``release/``, la retroalimentación)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from curso_pytorch.course import HIDDEN_BEGIN, HIDDEN_END, SOLUTION_BEGIN, SOLUTION_END, lab_notebooks


def hidden_test_snippets(course_dir: Path, lab: str) -> list[str]:
    """Líneas de código de las pruebas ocultas de un laboratorio (salvo las que el laboratorio
    también muestra fuera de ellas, como ``with torch.no_grad():`` en una prueba visible)."""
    snippets, public = [], set()
    for notebook in lab_notebooks(Path(course_dir) / "source" / lab):
        for cell in nbformat.read(notebook, as_version=4).cells:
            visible = cell.source
            if HIDDEN_BEGIN in cell.source:
                before, rest = cell.source.split(HIDDEN_BEGIN, 1)
                hidden, after = rest.split(HIDDEN_END, 1)
                snippets += [ln.strip() for ln in hidden.splitlines() if len(ln.strip()) > 20]
                visible = before + after
            if SOLUTION_BEGIN not in visible:
                public.update(ln.strip() for ln in visible.splitlines())
    return [s for s in snippets if s not in public]


def solution_snippets(course_dir: Path, lab: str) -> list[str]:
    """Líneas de código de las soluciones de un laboratorio."""
    snippets = []
    pattern = re.compile(re.escape(SOLUTION_BEGIN) + r"(.*?)" + re.escape(SOLUTION_END), re.S)
    for notebook in lab_notebooks(Path(course_dir) / "source" / lab):
        for cell in nbformat.read(notebook, as_version=4).cells:
            for block in pattern.findall(cell.source):
                snippets += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 20]
    return snippets
