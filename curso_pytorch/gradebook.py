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

from .course import db_url, open_gradebook
from .locks import file_lock

LOCK_KEY = 0x43555253  # "CURS"


# --------------------------------------------------------------------------- escribir


def record(url: str, result) -> None:
    """Guarda las notas de ``result`` (un ``autograde.Result``) en el libro de calificaciones.

    Una entrega que no se pudo ejecutar (cuaderno roto, vacío, ausente) queda con 0 en cada celda:
    siempre hay una nota registrada.
    """
    from sqlalchemy import text

    scores = {(c.notebook, c.grade_id): c.score for c in result.cells}
    sqlite = url.startswith("sqlite:///")
    lock = file_lock(Path(url.split("sqlite:///", 1)[1] + ".cerrojo")) if sqlite else contextlib.nullcontext()
    with lock, open_gradebook(url) as gb, contextlib.ExitStack() as held:
        if gb.db.bind.dialect.name == "postgresql":
            # Un cerrojo de sesión en una conexión aparte, hasta el final: nbgrader confirma (commit)
            # entre un paso y otro, y un cerrojo de transacción se soltaría en el primero.
            connection = held.enter_context(gb.engine.connect())
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            held.callback(connection.execute, text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        gb.update_or_create_student(result.student)
        options = {"timestamp": result.timestamp} if result.timestamp else {}
        submission = gb.update_or_create_submission(result.lab, result.student, **options)
        for notebook in submission.notebooks:
            notebook.late_submission_penalty = result.penalties.get(notebook.name)
            for grade in notebook.grades:
                grade.auto_score = scores.get((notebook.name, grade.name), 0.0)
                grade.needs_manual_grade = False
        gb.db.commit()


def set_due_date(url: str, lab: str, due) -> None:
    """Fija (o quita, con None) la fecha límite de ``lab``: un ``datetime`` en UTC."""

    with open_gradebook(url) as gb:
        gb.update_or_create_assignment(lab, duedate=due)


def due_date(url: str, lab: str):
    """La fecha límite de ``lab`` (``datetime`` en UTC, sin zona) o None."""
    from nbgrader.api import MissingEntry

    with open_gradebook(url) as gb:
        try:
            return gb.find_assignment(lab).duedate
        except MissingEntry:
            return None


# --------------------------------------------------------------------------- leer


def known_labs(url: str) -> set[str]:
    """Los laboratorios que conoce el libro (los publicados con ``curso publicar``)."""

    with open_gradebook(url) as gb:
        return {a.name for a in gb.assignments}


def cell_scores(course_dir: Path, lab: str, student: str) -> dict[str, tuple[float, float]]:
    """Puntos por celda calificada: ``{grade_id: (puntos, máximo)}``."""

    scores = {}
    with open_gradebook(db_url(course_dir)) as gb:
        sub = gb.find_submission(lab, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                scores[g.name] = (g.score, g.max_score)
    return scores


@dataclass
class GradeRow:
    student: str
    lab: str
    score: float | None  # puntos, ya descontado el recargo por retraso; None: sin entrega
    max_score: float
    penalty: float = 0.0  # recargo por entregar tarde (el de nbgrader)
    seconds_late: float = 0.0
    cells: dict[str, tuple[float, float]] | None = None  # {grade_id: (puntos, máximo)}
    name: str = ""  # nombre y apellidos, si el libro los tiene


def grade_rows(course_dir: Path) -> list[GradeRow]:
    """Nota de cada alumno en cada laboratorio según el libro de calificaciones."""
    from nbgrader.api import MissingEntry

    rows = []
    with open_gradebook(db_url(course_dir)) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                name = " ".join(x for x in (student.first_name, student.last_name) if x)
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    rows.append(GradeRow(student.id, assignment.name, None, assignment.max_score, name=name))
                    continue
                penalty = float(sub.late_submission_penalty or 0)
                cells = {g.name: (float(g.score or 0), float(g.max_score)) for nb in sub.notebooks for g in nb.grades}
                rows.append(GradeRow(student.id, assignment.name, max(0.0, sub.score - penalty), assignment.max_score,
                                     penalty, float(sub.total_seconds_late or 0), cells, name))
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


def _long(rows: list[GradeRow]) -> list[list[str]]:
    """Una fila por alumno y laboratorio (vacío: sin entrega)."""
    table = [["alumno", "laboratorio", "puntos", "maximo", "recargo", "segundos_tarde"]]
    for r in rows:
        delivered = r.score is not None
        table.append([r.student, r.lab, _fmt(r.score) if delivered else "", _fmt(r.max_score),
                      _fmt(r.penalty) if delivered else "", _fmt(r.seconds_late) if delivered else ""])
    return table


def _by_student(rows: list[GradeRow]) -> tuple[list[str], list[str], dict]:
    students = sorted({r.student for r in rows})
    labs = sorted({r.lab for r in rows})
    return students, labs, {(r.student, r.lab): r for r in rows}


def _wide(rows: list[GradeRow]) -> list[list[str]]:
    """Una fila por alumno: una columna por celda de pruebas (``lab/grade_id``), el recargo y el
    total de cada laboratorio, y el total del curso. La segunda fila dice el máximo de cada columna."""
    students, labs, cell = _by_student(rows)
    columns = []  # (lab, grade_id o "recargo" o "total")
    for lab in labs:
        ids = sorted({g for r in rows if r.lab == lab and r.cells for g in r.cells})
        columns += [(lab, g) for g in ids] + [(lab, "recargo"), (lab, "total")]
    maxima = {}
    for r in rows:
        for g, (_, top) in (r.cells or {}).items():
            maxima[(r.lab, g)] = top
        maxima[(r.lab, "total")] = r.max_score
    header = ["alumno", *(f"{lab}/{what}" for lab, what in columns), "total"]
    top_row = ["(máximo)", *(_fmt(maxima[c]) if c in maxima else "" for c in columns),
               _fmt(sum(maxima.get((lab, "total"), 0) for lab in labs))]
    table = [header, top_row]
    for s in students:
        line, total = [s], 0.0
        for lab, what in columns:
            r = cell.get((s, lab))
            if r is None or r.score is None:
                line.append("")
            elif what == "total":
                line.append(_fmt(r.score))
                total += r.score
            elif what == "recargo":
                line.append(_fmt(r.penalty))
            else:
                line.append(_fmt(r.cells.get(what, (0.0, 0.0))[0]))
        table.append([*line, _fmt(total)])
    return table


def _moodle(rows: list[GradeRow]) -> list[list[str]]:
    """Importación de calificaciones de Moodle (CSV): ``username`` y una columna por laboratorio."""
    students, labs, cell = _by_student(rows)
    table = [["username", *labs]]
    for s in students:
        table.append([s, *(_fmt(cell[(s, lab)].score) if cell.get((s, lab)) and cell[(s, lab)].score is not None
                           else "" for lab in labs)])
    return table


def _canvas(rows: list[GradeRow]) -> list[list[str]]:
    """Importación del libro de calificaciones de Canvas: sus cinco primeras columnas, una por
    laboratorio y la fila «Points Possible»; el alumno se reconoce por «SIS Login ID»."""
    students, labs, cell = _by_student(rows)
    maxima = {r.lab: r.max_score for r in rows}
    table = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs],
             ["Points Possible", "", "", "", "", *(_fmt(maxima[lab]) for lab in labs)]]
    for s in students:
        name = next((r.name for r in rows if r.student == s and r.name), s)
        table.append([name, "", "", s, "",
                      *(_fmt(cell[(s, lab)].score) if cell.get((s, lab)) and cell[(s, lab)].score is not None
                        else "" for lab in labs)])
    return table


#: Formatos de ``curso notas --formato``.
EXPORTS = {"largo": _long, "ancho": _wide, "moodle": _moodle, "canvas": _canvas}


def export_grades(course_dir: Path, csv_path: Path, layout: str = "largo") -> list[GradeRow]:
    """Escribe las notas en CSV con el formato ``layout`` (ver ``EXPORTS``) y las devuelve."""
    rows = grade_rows(course_dir)
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(EXPORTS[layout](rows))
    return rows
