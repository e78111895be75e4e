"""Las entregas: qué hay en ``submitted/<alumno>/<lab>/``, cómo se deja una, y las de ejemplo."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .course import SOLUTION_BEGIN, SOLUTION_END, grade_id, is_solution_cell, lab_notebooks, labs

DEMO_STUDENTS = {"referencia": "reference", "en_blanco": "release"}


def submissions(course_dir: Path, lab: str | None = None, student: str | None = None) -> list[tuple[str, str]]:
    """Pares (alumno, laboratorio) presentes en ``submitted/``."""
    root = Path(course_dir) / "submitted"
    found = []
    if not root.is_dir():
        return found
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if student and student_dir.name != student:
            continue
        for lab_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if lab and lab_dir.name != lab:
                continue
            found.append((student_dir.name, lab_dir.name))
    return found


def submission_files(course_dir: Path, lab: str, student: str) -> dict[str, bytes]:
    """Los archivos de una entrega (ruta relativa -> contenido), sin los ocultos (``.algo``)."""
    folder = Path(course_dir) / "submitted" / student / lab
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _strip_solution_markers(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)]
    return "\n".join(lines)


def reference_notebook(course_dir: Path, lab: str, notebook: str) -> nbformat.NotebookNode:
    """La copia del alumno con cada celda de respuesta rellena con la solución de referencia."""
    course_dir = Path(course_dir)
    source = nbformat.read(course_dir / "source" / lab / notebook, as_version=4)
    solutions = {grade_id(cell): _strip_solution_markers(cell.source) for cell in source.cells if is_solution_cell(cell)}
    release = nbformat.read(course_dir / "release" / lab / notebook, as_version=4)
    for cell in release.cells:
        if is_solution_cell(cell) and grade_id(cell) in solutions:
            cell.source = solutions[grade_id(cell)]
    return release


def submit(course_dir: Path, lab: str, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    """Deja una entrega en ``submitted/<alumno>/<lab>/`` como lo haría ``nbgrader collect``."""
    folder = Path(course_dir) / "submitted" / student / lab
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp)
    return folder


def make_demo_submissions(course_dir: Path) -> list[tuple[str, str]]:
    """Dos entregas por laboratorio: la solución de referencia y la copia sin resolver."""
    course_dir = Path(course_dir)
    made = []
    for lab in labs(course_dir):
        names = [p.name for p in lab_notebooks(course_dir / "release" / lab)]
        for student, kind in DEMO_STUDENTS.items():
            if kind == "reference":
                notebooks = {n: reference_notebook(course_dir, lab, n) for n in names}
            else:
                notebooks = {n: nbformat.read(course_dir / "release" / lab / n, as_version=4) for n in names}
            submit(course_dir, lab, student, notebooks)
            made.append((student, lab))
    return made
