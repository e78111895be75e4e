"""Cada requisito del enunciado tiene su prueba y su error típico (``tests/requirements.py``).

Estas pruebas solo leen cuadernos y tablas: que cada error típico pierda exactamente sus celdas lo
comprueba la clase de pruebas de cada laboratorio, que los califica en su lote.
"""

from __future__ import annotations

import importlib
import re

import nbformat
import pytest

from curso_pytorch import course
from tests.grading import REPO, LabGradingTests
from tests.requirements import CONTEXT, MODULES, REQUIREMENTS

ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")


def _normal(text: str) -> str:
    return " ".join(text.split())


def statement_units(lab: str) -> list[str]:
    """Los párrafos y puntos de lista del enunciado del ejercicio: el texto de las celdas de markdown
    desde «Ejercicio (calificado)» hasta la primera celda de pruebas."""
    nb = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    units, inside = [], False
    for cell in nb.cells:
        if course.is_test_cell(cell):
            break
        if cell.cell_type != "markdown":
            continue
        inside = inside or bool(re.search(r"^## \d+\. Ejercicio", cell.source, re.M))
        if not inside:
            continue
        current: list[str] = []
        for line in cell.source.splitlines() + [""]:
            if not line.strip() or line.startswith("#") or ITEM.match(line):
                if current:
                    units.append(_normal(" ".join(current)))
                current = [] if not line.strip() or line.startswith("#") else [line]
            else:
                current.append(line)
    assert units, f"{lab}: no se encontró el enunciado del ejercicio"
    return units


# Fin de una oración: «.», «!» o «?» seguidos de espacio y de lo que empieza la siguiente.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÁÉÍÓÚÑ¿¡`*«($|-])")
# Lo que queda de un número de lista («1.», «**2.», «- »), que no es una oración.
LIST_MARK = re.compile(r"^[-*\s]*\d*\.?[*\s]*$")


def statement_sentences(lab: str) -> list[str]:
    """Las oraciones del enunciado (cada párrafo y punto de lista, partido en oraciones)."""
    return [s for unit in statement_units(lab) for s in SENTENCE_END.split(unit) if not LIST_MARK.match(s)]


def _grading_class(lab: str) -> type[LabGradingTests]:
    module = importlib.import_module(MODULES[lab])
    found = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, LabGradingTests) and c.LAB == lab]
    assert len(found) == 1, f"{MODULES[lab]}: una sola clase de pruebas de {lab}"
    return found[0]


@pytest.mark.parametrize("lab", sorted(REQUIREMENTS))
def test_every_statement_sentence_is_checked(lab):
    """Cada oración del enunciado tiene al menos un requisito de la tabla (o es contexto)."""
    fragments = [_normal(f) for f, _, _ in REQUIREMENTS[lab]] + [_normal(f) for f in CONTEXT.get(lab, [])]
    units, sentences = statement_units(lab), statement_sentences(lab)
    unchecked = [u for u in sentences if not any(f in u for f in fragments)]
    assert not unchecked, f"{lab}: oraciones del enunciado sin prueba ni error típico en tests/requirements.py:\n" \
        + "\n".join(f"- {u[:160]}" for u in unchecked)
    missing = [f for f in fragments if not any(f in u for u in units)]
    assert not missing, f"{lab}: fragmentos de tests/requirements.py que ya no están en el enunciado: {missing}"


@pytest.mark.parametrize("lab", sorted(REQUIREMENTS))
def test_every_requirement_has_a_cell_and_a_bug_that_loses_it(lab):
    nb = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    cells = {course.grade_id(c) for c in nb.cells if course.is_test_cell(c)}
    bugs = _grading_class(lab).BUGS
    for fragment, cell, bug in REQUIREMENTS[lab]:
        assert cell in cells, f"{lab}: «{fragment}»: {cell} no es una celda de pruebas"
        assert bug in bugs, f"{lab}: «{fragment}»: {bug} no es una entrega de las pruebas del laboratorio"
        assert cell in bugs[bug][1], f"{lab}: «{fragment}»: {bug} no pierde {cell}"


def test_every_lab_with_requirements_has_a_module():
    assert set(REQUIREMENTS) == set(MODULES)
