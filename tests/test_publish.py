"""Publicación: release/ es exactamente lo que genera source/, sin soluciones ni pruebas ocultas,
con los esbozos en español y las sumas de verificación de nbgrader."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from curso_pytorch import course, publish

from tests import leaks

REPO = Path(__file__).resolve().parents[1]
LABS = course.labs(REPO)
CODE_STUB = ("# TU CÓDIGO AQUÍ", 'raise NotImplementedError("Completa este ejercicio")')


def _cells(lab, folder="release"):
    nb_path = REPO / folder / lab / f"{lab}.ipynb"
    return nbformat.read(nb_path, as_version=4).cells


def test_every_lab_has_a_release():
    assert LABS, "no hay laboratorios en source/"
    for lab in LABS:
        assert (REPO / "release" / lab / f"{lab}.ipynb").is_file(), f"falta release/{lab}"


def test_release_matches_source():
    problems = publish.stale_release(REPO)
    assert not problems, "release/ está desactualizado; ejecuta «curso publicar»:\n" + "\n".join(problems)


@pytest.mark.parametrize("lab", LABS)
def test_no_solution_or_hidden_test_reaches_students(lab):
    text = (REPO / "release" / lab / f"{lab}.ipynb").read_text(encoding="utf-8")
    assert course.SOLUTION_BEGIN not in text and course.HIDDEN_BEGIN not in text
    answers = [c for c in _cells(lab) if c.metadata.get("nbgrader", {}).get("solution")]
    graded = [c for c in _cells(lab) if c.metadata.get("nbgrader", {}).get("grade")]
    assert answers and graded
    answer_text = "\n".join(c.source for c in answers)
    for line in leaks.solution_snippets(REPO, lab):
        assert line not in answer_text, f"línea de la solución en release/: {line}"
    test_text = "\n".join(c.source for c in graded)
    for line in leaks.hidden_test_snippets(REPO, lab):
        assert line not in test_text, f"línea de una prueba oculta en release/: {line}"


@pytest.mark.parametrize("lab", LABS)
def test_spanish_stubs_and_checksums(lab):
    for cell in _cells(lab):
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        if meta.get("solution") and cell.cell_type == "code":
            lines = [ln.strip() for ln in cell.source.splitlines()]
            assert all(stub in lines for stub in CODE_STUB), f"{meta['grade_id']}: falta el esbozo en español"
        if meta.get("solution") or meta.get("grade") or meta.get("locked"):
            assert meta.get("checksum"), f"{meta['grade_id']}: falta la suma de verificación"


def test_every_notebook_installs_the_course_from_the_configured_repository():
    """La celda de preparación instala el paquete en Colab desde la dirección de pyproject.toml."""
    import tomllib

    url = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    expected = f'"curso-pytorch @ git+{url}"'
    notebooks = sorted(REPO.glob("source/*/*.ipynb")) + sorted(REPO.glob("release/*/*.ipynb"))
    notebooks += sorted(REPO.glob("notebooks/*.ipynb"))
    for path in notebooks:
        setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
        assert 'find_spec("curso_pytorch") is None' in setup and expected in setup, path
        # Sin conexión (pruebas, aulas con réplica local) la misma celda instala desde CURSO_PAQUETE.
        assert 'os.environ.get("CURSO_PAQUETE",' in setup and '"install", "-q", package]' in setup, path
