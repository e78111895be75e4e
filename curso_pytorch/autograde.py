"""Una entrega calificada en una carpeta de curso privada: tarea -> resultado.

La tarea lleva todo lo que hace falta (bytes): la plantilla del laboratorio (la configuración,
su carpeta de ``source/`` y un libro de calificaciones que solo lo conoce a él) y los archivos
de la entrega. ``run_task`` los extiende en una carpeta temporal, diagnostica y arregla el
cuaderno entregado, llama a ``nbgrader autograde`` (con el núcleo del alumno en su caja, ver
``curso_pytorch.execute``) y devuelve los puntos, el motivo de cada punto perdido y los archivos
calificados. Nunca escribe en el curso real: eso lo hace quien coordina (``curso_pytorch.grading``).
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import GradingSetupError, grade_id, is_test_cell, lab_notebooks, nbgrader_api
from .sandbox import fork_problem_notice

MAX_RETURNED_BYTES = 20 * 2**20  # archivos del alumno (no cuadernos) que vuelven al curso
MAX_NOTEBOOK_BYTES = 32 * 2**20  # un cuaderno calificado (la salida de cada celda ya va recortada)


@dataclass
class Task:
    lab: str
    student: str
    template: bytes  # tar: nbgrader_config.py, source/<lab>/, gradebook.db con el laboratorio
    submission: dict[str, bytes]  # archivos de submitted/<alumno>/<lab>/
    data_dir: str | None = None  # caché de datos compartida (solo lectura)
    cpus: float = 0.0  # núcleos para esta entrega (cuota de la caja); 0 = los de la configuración
    references_dir: str | None = None  # caché de referencias del juez del curso (junto al libro)
    prestart_next: bool = False  # este trabajador calificará otra después: arrancar ya su núcleo


@dataclass
class CellResult:
    notebook: str
    grade_id: str
    score: float
    max_score: float
    reason: str = ""  # por qué no tiene todos los puntos (en español)


@dataclass
class Result:
    lab: str
    student: str
    ok: bool
    problem: str = ""
    timestamp: str | None = None
    cells: list[CellResult] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # autograded/<alumno>/<lab>/
    seconds: float = 0.0
    worker: str = ""
    notes: list[str] = field(default_factory=list)  # arreglos hechos al cuaderno entregado
    setup_problem: str = ""  # la preparación de quien califica falló: esta nota no se escribe
    seconds_late: float = 0.0  # respecto de la fecha límite del laboratorio, si la tiene
    penalties: dict[str, float] = field(default_factory=dict)  # recargo por cuaderno (nbgrader)

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)


# --------------------------------------------------------------------------- la tarea


def run_task(task: Task) -> Result:
    """Califica una entrega en una carpeta privada. Nunca lanza: un fallo queda en ``problem``."""
    start = time.perf_counter()
    result = Result(task.lab, task.student, ok=False, worker=f"{platform.node()}:{os.getpid()}")
    tmp = Path(tempfile.mkdtemp(prefix="curso-calificar-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(task.template)) as tar:
            tar.extractall(tmp, filter="data")
        submitted = tmp / "submitted" / task.student / task.lab
        submitted.mkdir(parents=True)
        for name, content in task.submission.items():
            target = submitted / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        stamp = submitted / "timestamp.txt"
        result.timestamp = stamp.read_text().strip() if stamp.is_file() else None
        # La caché compartida, si este trabajador la ve; si no, la que decida SafeExecute.
        data_dir = task.data_dir if task.data_dir and Path(task.data_dir).is_dir() else None
        api = nbgrader_api(tmp, db_url=f"sqlite:///{tmp / 'gradebook.db'}", data_dir=data_dir, cpus=task.cpus,
                           references_dir=references_dir(task), prestart_next=task.prestart_next)
        names = [p.name for p in lab_notebooks(tmp / "source" / task.lab)]
        result.notes += adopt_renamed_notebook(submitted, names)
        problem = diagnose_submission(submitted, names)
        for name in names:
            if (submitted / name).is_file() and not problem:
                result.notes += repair_submission(submitted / name, tmp / "source" / task.lab / name)
        outcome = api.autograde(task.lab, task.student, force=True, create=True)
        notice = fork_problem_notice()
        if notice:
            result.notes.append(notice)
        if not outcome.get("success"):
            problem = problem or nbgrader_failure(outcome)
            log = (outcome.get("log") or "") + (outcome.get("error") or "")
            if GradingSetupError.__name__ in log:
                result.setup_problem = _setup_message(log)
        result.cells = _scores(tmp, task.lab, task.student, result)
        autograded = tmp / "autograded" / task.student / task.lab
        if autograded.is_dir():
            result.files = _collect(autograded)
            _add_reasons(result, autograded)
        result.problem = problem or ""
        for entry in result.cells:
            if problem and entry.score < entry.max_score and not entry.reason:
                entry.reason = problem
        result.ok = not problem and bool(result.cells)
    except Exception as error:  # noqa: BLE001 (la entrega siguiente debe calificarse igual)
        result.problem = f"error interno al calificar: {type(error).__name__}: {error}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        result.seconds = time.perf_counter() - start
    return result


def references_dir(task: Task) -> str:
    """Dónde guarda el juez sus referencias: junto al libro del curso si este trabajador ve la
    carpeta del curso; si no (un trabajador de Dask en otra máquina), una carpeta de esta máquina.
    Nunca dentro de la caja del alumno (su /tmp es otro)."""
    wanted = Path(task.references_dir) if task.references_dir else None
    if wanted is not None and wanted.parent.is_dir():
        return str(wanted)
    return str(Path(tempfile.gettempdir()) / "curso-referencias")


# --------------------------------------------------------------------------- antes de nbgrader


def _notebooks_in(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("*.ipynb") if not p.name.startswith("."))


def adopt_renamed_notebook(folder: Path, expected: list[str]) -> list[str]:
    """Si falta un único cuaderno del laboratorio y la entrega trae un único cuaderno con otro
    nombre (``03_entrenamiento (1).ipynb``), se califica ese con el nombre esperado."""
    missing = [name for name in expected if not (Path(folder) / name).is_file()]
    others = [name for name in _notebooks_in(folder) if name not in expected]
    if len(missing) != 1 or len(others) != 1:
        return []
    (Path(folder) / others[0]).rename(Path(folder) / missing[0])
    return [f"el cuaderno «{others[0]}» se califica como «{missing[0]}» (tenía otro nombre)"]


def diagnose_submission(folder: Path, expected: list[str]) -> str | None:
    """Motivo en español por el que una entrega no se puede calificar entera, o None."""
    problems = []
    for name in expected:
        path = Path(folder) / name
        if not path.is_file():
            present = [n for n in _notebooks_in(folder) if n not in expected]
            there = f" (la entrega trae: {', '.join(present)})" if present else " (la entrega no trae ningún cuaderno)"
            problems.append(f"falta el cuaderno {name}{there}")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            problems.append(f"el cuaderno {name} está vacío")
            continue
        try:
            json.loads(text)
            nbformat.validate(nbformat.reads(text, as_version=4))
        except json.JSONDecodeError as error:
            problems.append(f"el cuaderno {name} no es JSON válido (línea {error.lineno}): ¿se editó fuera de Jupyter?")
        except Exception:  # noqa: BLE001 (cualquier otro defecto de formato)
            problems.append(f"el cuaderno {name} no tiene el formato de un cuaderno de Jupyter")
    return "; ".join(problems) or None


def repair_submission(path: Path, source_path: Path) -> list[str]:
    """Arregla lo que haría fallar a nbgrader en un cuaderno entregado y dice qué hizo.

    - Celdas de pruebas duplicadas: se queda la primera (los puntos no se cuentan dos veces).
    - Celdas con un ``grade_id`` que el laboratorio no tiene (identificador cambiado): pasan a ser
      celdas normales, sin puntos.
    - Celdas de pruebas borradas o renombradas: se reponen desde el laboratorio, tras la celda
      calificada anterior (las pruebas son del curso; las respuestas siguen siendo las del alumno).
      Las celdas de respuesta nunca se reponen.
    - Identificadores de celda repetidos: se renuevan.
    """
    nb = nbformat.read(path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    known = {grade_id(c): c for c in source.cells if grade_id(c)}
    notes, kept, seen, ids = [], [], set(), set()
    for cell in nb.cells:
        cell_id = grade_id(cell)
        if cell_id and cell_id not in known:
            del cell.metadata["nbgrader"]
            notes.append(f"celda «{cell_id}» desconocida: se califica como una celda normal")
        elif cell_id in seen:
            notes.append(f"celda «{cell_id}» duplicada: se quita la copia")
            continue
        elif cell_id:
            seen.add(cell_id)
        if getattr(cell, "id", None) in ids or not getattr(cell, "id", None):
            cell.id = uuid.uuid4().hex[:8]
        ids.add(cell.id)
        kept.append(cell)
    previous = None
    for cell in source.cells:
        cell_id = grade_id(cell)
        if not cell_id:
            continue
        if cell_id not in seen and is_test_cell(cell):
            restored = nbformat.from_dict(dict(cell))
            restored.id = uuid.uuid4().hex[:8]
            at = next((i + 1 for i, c in enumerate(kept) if previous and grade_id(c) == previous), len(kept))
            kept.insert(at, restored)
            seen.add(cell_id)
            notes.append(f"celda de pruebas «{cell_id}» ausente: se repone")
        if cell_id in seen:
            previous = cell_id
    if notes:
        nb.cells = kept
        nbformat.write(nb, path)
    return notes


# --------------------------------------------------------------------------- después de nbgrader


def nbgrader_failure(result: dict) -> str:
    """La causa más concreta que deja nbgrader en su registro (la última excepción nombrada)."""
    text = (result.get("log") or "") + (result.get("error") or "")
    causes = [ln.strip() for ln in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception)\b.*: ", ln) and "Please see the" not in ln]
    errors = [ln for ln in text.splitlines() if ln.startswith("[ERROR]") and "Please see the" not in ln]
    last = causes or errors or text.strip().splitlines()[-1:] or ["error desconocido"]
    return "nbgrader no pudo calificar: " + last[-1][:300]


def _setup_message(log: str) -> str:
    """El mensaje de ``GradingSetupError`` tal como lo dejó nbgrader en su registro."""
    marker = GradingSetupError.__name__ + ": "
    lines = [ln.split(marker, 1)[1] for ln in log.splitlines() if marker in ln]
    return lines[-1].strip() if lines else "la preparación de la calificación está incompleta"


def _scores(course_dir: Path, lab: str, student: str, result: Result) -> list[CellResult]:
    """Puntos por celda del libro privado; también el retraso y el recargo de nbgrader."""
    from nbgrader.api import Gradebook, MissingEntry

    cells = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(lab, student)
        except MissingEntry:
            return cells
        result.seconds_late = float(submission.total_seconds_late or 0)
        for notebook in submission.notebooks:
            if notebook.late_submission_penalty:
                result.penalties[notebook.name] = float(notebook.late_submission_penalty)
            for grade in notebook.grades:
                cells.append(CellResult(notebook.name, grade.name, float(grade.score or 0), float(grade.max_score)))
    return cells


def _collect(folder: Path, budget: int = MAX_RETURNED_BYTES) -> dict[str, bytes]:
    """Lo que vuelve de la carpeta calificada: los cuadernos primero y, del resto, lo que quepa.
    Los enlaces simbólicos que haya creado el alumno no se siguen."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: (p.suffix != ".ipynb", str(p)))
    files = {}
    for path in paths:
        size = path.stat().st_size
        if path.suffix == ".ipynb" and size > MAX_NOTEBOOK_BYTES:
            continue  # su nota ya está en el libro; el motivo, en las celdas
        if path.suffix == ".ipynb" or size <= budget:
            files[str(path.relative_to(folder))] = path.read_bytes()
            budget -= size
    return files


def _error_reason(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = (output.get("evalue") or "").strip().splitlines()
            return f"{output.get('ename')}: {text[0]}" if text else output.get("ename", "error")
    return ""


def _add_reasons(result: Result, autograded: Path) -> None:
    by_id = {(c.notebook, c.grade_id): c for c in result.cells}
    for path in autograded.glob("*.ipynb"):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for cell in nb.cells:
            entry = by_id.get((path.stem, grade_id(cell)))
            if entry is not None and entry.score < entry.max_score:
                entry.reason = _error_reason(cell) or "la celda no se ejecutó o no se encontró"
    for entry in result.cells:
        if entry.score < entry.max_score and not entry.reason:
            entry.reason = "la celda de pruebas no está en el cuaderno entregado"
