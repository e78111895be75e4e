"""Escritura de notas en el libro de calificaciones de nbgrader (SQLite o PostgreSQL).

Solo el proceso que coordina la calificación escribe, una entrega cada vez, dentro de una
transacción y con un cerrojo: con SQLite, un archivo cerrojo junto al libro; con PostgreSQL, un
cerrojo consultivo (``pg_advisory_xact_lock``) que comparten todos los correctores que usen ese
servidor. Dos correctores a la vez no pierden ni duplican notas.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: un solo corrector a la vez
    fcntl = None

LOCK_KEY = 0x43555253  # "CURS"


@contextlib.contextmanager
def _sqlite_lock(db_url: str):
    path = Path(db_url.split("sqlite:///", 1)[1] + ".cerrojo")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record(db_url: str, result) -> None:
    """Guarda las notas de ``result`` (un ``workers.Result``) en el libro de calificaciones.

    Una entrega que no se pudo ejecutar (cuaderno roto, vacío, ausente) queda con 0 en cada celda:
    siempre hay una nota registrada.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    scores = {(c.notebook, c.grade_id): c.score for c in result.cells}
    lock = _sqlite_lock(db_url) if db_url.startswith("sqlite:///") and fcntl else contextlib.nullcontext()
    with lock, Gradebook(db_url) as gb:
        if gb.db.bind.dialect.name == "postgresql":
            gb.db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        gb.update_or_create_student(result.student)
        options = {"timestamp": result.timestamp} if result.timestamp else {}
        submission = gb.update_or_create_submission(result.lab, result.student, **options)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = scores.get((notebook.name, grade.name), 0.0)
                grade.needs_manual_grade = False
        gb.db.commit()
