"""El libro de calificaciones de nbgrader (SQLite o PostgreSQL): cada lectura y escritura del
curso, y la tabla de notas.

Solo el proceso que coordina la calificación escribe, una entrega cada vez, dentro de una
transacción y con un cerrojo: con SQLite, un archivo cerrojo junto al libro; con PostgreSQL, un
cerrojo consultivo (``pg_advisory_xact_lock``) que comparten todos los correctores que usen ese
servidor. Dos correctores a la vez no pierden ni duplican notas.
"""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from pathlib import Path

from .course import db_url

try:
    import fcntl
except ImportError:  # Windows: un solo corrector a la vez
    fcntl = None

LOCK_KEY = 0x43555253  # "CURS"


# --------------------------------------------------------------------------- escribir


@contextlib.contextmanager
def _sqlite_lock(url: str):
    path = Path(url.split("sqlite:///", 1)[1] + ".cerrojo")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record(url: str, result) -> None:
    """Guarda las notas de ``result`` (un ``autograde.Result``) en el libro de calificaciones.

    Una entrega que no se pudo ejecutar (cuaderno roto, vacío, ausente) queda con 0 en cada celda:
    siempre hay una nota registrada.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    scores = {(c.notebook, c.grade_id): c.score for c in result.cells}
    lock = _sqlite_lock(url) if url.startswith("sqlite:///") and fcntl else contextlib.nullcontext()
    with lock, Gradebook(url) as gb:
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


# --------------------------------------------------------------------------- leer


def known_labs(url: str) -> set[str]:
    """Los laboratorios que conoce el libro (los publicados con ``curso publicar``)."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {a.name for a in gb.assignments}


def cell_scores(course_dir: Path, lab: str, student: str) -> dict[str, tuple[float, float]]:
    """Puntos por celda calificada: ``{grade_id: (puntos, máximo)}``."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(db_url(course_dir)) as gb:
        sub = gb.find_submission(lab, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                scores[g.name] = (g.score, g.max_score)
    return scores


@dataclass
class GradeRow:
    student: str
    lab: str
    score: float | None
    max_score: float


def grade_rows(course_dir: Path) -> list[GradeRow]:
    """Nota de cada alumno en cada laboratorio según el libro de calificaciones."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(db_url(course_dir)) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    rows.append(GradeRow(student.id, assignment.name, sub.score, assignment.max_score))
                except MissingEntry:
                    rows.append(GradeRow(student.id, assignment.name, None, assignment.max_score))
    return rows


# --------------------------------------------------------------------------- mostrar y exportar


def _fmt(x: float) -> str:
    return f"{x:g}"


def grade_table(rows: list[GradeRow]) -> str:
    """Tabla de texto: una fila por alumno, una columna por laboratorio (puntos/máximo)."""
    students = sorted({r.student for r in rows})
    lab_names = sorted({r.lab for r in rows})
    cell = {(r.student, r.lab): r for r in rows}
    header = ["Alumno", *lab_names, "Total"]
    body = []
    for s in students:
        line, got, top = [s], 0.0, 0.0
        for lab in lab_names:
            r = cell.get((s, lab))
            if r is None or r.score is None:
                line.append("sin entrega")
                top += r.max_score if r else 0
            else:
                line.append(f"{_fmt(r.score)}/{_fmt(r.max_score)}")
                got, top = got + r.score, top + r.max_score
        line.append(f"{_fmt(got)}/{_fmt(top)}")
        body.append(line)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda row: "  ".join(str(v).ljust(w) for v, w in zip(row, widths))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)])


def export_grades(course_dir: Path, csv_path: Path) -> list[GradeRow]:
    """Escribe las notas en CSV (alumno, laboratorio, puntos, máximo) y las devuelve."""
    rows = grade_rows(course_dir)
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["alumno", "laboratorio", "puntos", "maximo"])
        for r in rows:
            writer.writerow([r.student, r.lab, "" if r.score is None else _fmt(r.score), _fmt(r.max_score)])
    return rows
