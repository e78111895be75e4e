"""Calificación en paralelo: con 2 procesos y en un clúster Dask real da las mismas notas que en
secuencia; con un libro de calificaciones PostgreSQL, dos correctores a la vez no pierden ni
duplican notas."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from curso_pytorch import course, gradebook, grading, publish, submissions
from tests.grading import REPO, variant_notebook

LAB = "01_tensores"
NB = f"{LAB}.ipynb"
# Tres entregas con notas distintas: la referencia (12), la copia en blanco (0) y un error
# típico (softmax normalizada por columnas: pierde los 2 puntos de test_softmax).
EXPECTED = {"referencia": 12, "en_blanco": 0, "softmax_dim0": 10}
SOFTMAX_DIM0 = {"softmax": [("logits.max(dim=1, keepdim=True)", "logits.max(dim=0, keepdim=True)"),
                            ("exp.sum(dim=1, keepdim=True)", "exp.sum(dim=0, keepdim=True)")]}


def _make_course(root, extra_config: str = ""):
    import shutil

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + extra_config)
    shutil.copytree(REPO / "source" / LAB, root / "source" / LAB)
    publish.publish(root, LAB)
    submissions.submit(root, LAB, "referencia", variant_notebook(root, LAB, {}))
    submissions.submit(root, LAB, "en_blanco", {NB: nbformat.read(root / "release" / LAB / NB, as_version=4)})
    submissions.submit(root, LAB, "softmax_dim0", variant_notebook(root, LAB, SOFTMAX_DIM0))
    return root


def _scores(root):
    return {s: gradebook.cell_scores(root, LAB, s) for s in EXPECTED}


def _totals(scores):
    return {s: sum(p for p, _ in cells.values()) for s, cells in scores.items()}


@pytest.fixture(scope="module")
def sqlite_course(tmp_path_factory):
    return _make_course(tmp_path_factory.mktemp("paralelo") / "curso")


def test_parallel_and_dask_match_sequential(sqlite_course, dask_scheduler):
    root = sqlite_course
    grading.grade(root, LAB, workers=1, report=lambda line: None)
    sequential = _scores(root)
    assert _totals(sequential) == EXPECTED
    lines = []
    grading.grade(root, LAB, workers=2, report=lines.append)
    assert _scores(root) == sequential
    assert any("2 proceso(s)" in line for line in lines) and any(line.startswith("Resumen:") for line in lines)
    lines = []
    outcomes = grading.grade(root, LAB, scheduler=dask_scheduler, report=lines.append)
    assert _scores(root) == sequential
    assert any("clúster" in line for line in lines)
    # Las entregas se repartieron entre los dos trabajadores del clúster.
    assert len({o.result.worker for o in outcomes}) == 2


def _count_submissions(url):
    from nbgrader.api import Gradebook, SubmittedAssignment

    with Gradebook(url) as gb:
        return {s: gb.db.query(SubmittedAssignment).join(SubmittedAssignment.student)
                .filter_by(id=s).count() for s in EXPECTED}


def test_postgres_gradebook_with_concurrent_graders(tmp_path, postgres_url):
    from tests.services import create_database

    url = create_database(postgres_url, "concurrencia")
    root = _make_course(tmp_path / "curso", f"\nc.CourseDirectory.db_url = {url!r}\n")
    assert course.db_url(root) == url and not (root / "gradebook.db").exists()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "curso_pytorch", "--curso", str(root), "calificar", LAB, "--procesos", "1"]
    # Dos correctores a la vez sobre las mismas entregas: cada una se escribe dos veces.
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: subprocess.run(command, env=env, capture_output=True, text=True), range(2)))
    for run in runs:
        assert "Calificadas 3 de 3 entregas" in run.stdout, run.stdout + run.stderr
    assert _totals(_scores(root)) == EXPECTED
    assert _count_submissions(url) == {s: 1 for s in EXPECTED}
