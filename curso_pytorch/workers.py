"""Calificación en paralelo: varios procesos en esta máquina o un clúster Dask.

Cada entrega se califica en una carpeta de curso privada y temporal (la configuración, el
laboratorio de ``source/`` y un libro de calificaciones con solo ese laboratorio), con el núcleo
del alumno en su caja (``curso_pytorch.sandbox``). El trabajador devuelve los puntos y los
archivos calificados; solo el proceso que coordina escribe en el libro de calificaciones del
curso, una entrega cada vez y dentro de una transacción (``curso_pytorch.gradebook``). Así da
igual que el libro sea SQLite o PostgreSQL, y que los trabajadores estén en otra máquina: una
tarea lleva todo lo que necesita (bytes), sin carpetas compartidas salvo la caché de datos.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import pickle
import queue
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat


MAX_RETURNED_BYTES = 20 * 2**20  # archivos del alumno (no cuadernos) que vuelven al curso


@dataclass
class Task:
    lab: str
    student: str
    template: bytes  # tar: nbgrader_config.py, source/<lab>/, gradebook.db con el laboratorio
    submission: dict[str, bytes]  # archivos de submitted/<alumno>/<lab>/
    data_dir: str | None = None  # caché de datos compartida (solo lectura)
    cpus: float = 0.0  # núcleos para esta entrega (cuota de la caja); 0 = los de la configuración


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

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)


# --------------------------------------------------------------------------- tareas


def _tar(folder: Path, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in names:
            tar.add(folder / name, arcname=name)
    return buffer.getvalue()


def lab_template(course_dir: Path, lab: str) -> bytes:
    """Curso mínimo para calificar ``lab``: la configuración, su carpeta de ``source/`` y un
    libro de calificaciones nuevo que solo lo conoce a él (sin alumnos ni notas)."""
    from .course import _api, _run

    course_dir = Path(course_dir)
    with tempfile.TemporaryDirectory(prefix="curso-plantilla-") as tmp:
        root = Path(tmp)
        shutil.copy(course_dir / "nbgrader_config.py", root)
        shutil.copytree(course_dir / "source" / lab, root / "source" / lab)
        api = _api(root, db_url=f"sqlite:///{root / 'gradebook.db'}")
        _run(f"preparar {lab}", api.generate_assignment(lab, force=True))
        return _tar(root, ["nbgrader_config.py", "source", "gradebook.db"])


def make_task(course_dir: Path, lab: str, student: str, template: bytes, data_dir: Path | None, cpus: float = 0.0) -> Task:
    folder = Path(course_dir) / "submitted" / student / lab
    files = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    return Task(lab, student, template, files, str(data_dir) if data_dir else None, cpus)


# --------------------------------------------------------------------------- trabajador


def _reason(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = (output.get("evalue") or "").strip().splitlines()
            return f"{output.get('ename')}: {text[0]}" if text else output.get("ename", "error")
    return ""


def run_task(task: Task) -> Result:
    """Califica una entrega en una carpeta privada. Nunca lanza: un fallo queda en ``problem``."""
    from .course import _api, _lab_notebooks, diagnose_submission

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
        data_dir = task.data_dir if task.data_dir and Path(task.data_dir).is_dir() else os.environ.get("CURSO_DATA_DIR")
        api = _api(tmp, db_url=f"sqlite:///{tmp / 'gradebook.db'}", data_dir=data_dir, cpus=task.cpus)
        names = [p.name for p in _lab_notebooks(tmp / "source" / task.lab)]
        problem = diagnose_submission(submitted, names)
        for name in names:
            if (submitted / name).is_file() and not problem:
                result.notes += repair_submission(submitted / name, tmp / "source" / task.lab / name)
        outcome = api.autograde(task.lab, task.student, force=True, create=True)
        if not outcome.get("success"):
            from .course import _last_error_line

            problem = problem or _last_error_line(outcome)
        result.cells = _scores(tmp, task.lab, task.student)
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


def _collect(folder: Path, budget: int = MAX_RETURNED_BYTES) -> dict[str, bytes]:
    """Lo que vuelve de la carpeta calificada: los cuadernos primero y, del resto, lo que quepa.
    Los enlaces simbólicos que haya creado el alumno no se siguen."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: (p.suffix != ".ipynb", str(p)))
    files = {}
    for path in paths:
        size = path.stat().st_size
        if path.suffix == ".ipynb" or size <= budget:
            files[str(path.relative_to(folder))] = path.read_bytes()
            budget -= size
    return files


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


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
    import uuid

    from .course import is_test_cell

    nb = nbformat.read(path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    known = {_grade_id(c): c for c in source.cells if _grade_id(c)}
    notes, kept, seen, ids = [], [], set(), set()
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id and grade_id not in known:
            del cell.metadata["nbgrader"]
            notes.append(f"celda «{grade_id}» desconocida: se califica como una celda normal")
        elif grade_id in seen:
            notes.append(f"celda «{grade_id}» duplicada: se quita la copia")
            continue
        elif grade_id:
            seen.add(grade_id)
        if getattr(cell, "id", None) in ids or not getattr(cell, "id", None):
            cell.id = uuid.uuid4().hex[:8]
        ids.add(cell.id)
        kept.append(cell)
    previous = None
    for cell in source.cells:
        grade_id = _grade_id(cell)
        if not grade_id:
            continue
        if grade_id not in seen and is_test_cell(cell):
            restored = nbformat.from_dict(dict(cell))
            restored.id = uuid.uuid4().hex[:8]
            at = next((i + 1 for i, c in enumerate(kept) if previous and _grade_id(c) == previous), len(kept))
            kept.insert(at, restored)
            seen.add(grade_id)
            notes.append(f"celda de pruebas «{grade_id}» ausente: se repone")
        if grade_id in seen:
            previous = grade_id
    if notes:
        nb.cells = kept
        nbformat.write(nb, path)
    return notes


def _scores(course_dir: Path, lab: str, student: str) -> list[CellResult]:
    from nbgrader.api import Gradebook, MissingEntry

    cells = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(lab, student)
        except MissingEntry:
            return cells
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                cells.append(CellResult(notebook.name, grade.name, float(grade.score or 0), float(grade.max_score)))
    return cells


def _add_reasons(result: Result, autograded: Path) -> None:
    by_id = {(c.notebook, c.grade_id): c for c in result.cells}
    for path in autograded.glob("*.ipynb"):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            entry = by_id.get((path.stem, grade_id))
            if entry is not None and entry.score < entry.max_score:
                entry.reason = _reason(cell) or "la celda no se ejecutó o no se encontró"
    for entry in result.cells:
        if entry.score < entry.max_score and not entry.reason:
            entry.reason = "la celda de pruebas no está en el cuaderno entregado"


# --------------------------------------------------------------------------- reparto


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_all(tasks: list[Task], workers: int = 1, scheduler: str | None = None):
    """Resultados según terminan: en este proceso (1), en ``workers`` procesos, o en Dask."""
    if scheduler:
        from distributed import Client, as_completed as dask_completed

        with Client(scheduler, timeout="30s") as client:
            futures = client.map(run_task, tasks, pure=False)
            for future in dask_completed(futures):
                yield future.result()
        return
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_task(task)
        return
    idle: queue.Queue = queue.Queue()
    for _ in range(workers):
        idle.put(_Worker())

    def run(task: Task) -> Result:
        worker = idle.get()
        try:
            return worker.run(task)
        finally:
            idle.put(worker)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(run, task) for task in tasks]):
                yield future.result()
    finally:
        while not idle.empty():
            idle.get().close()


class _Worker:
    """Un proceso hijo (``python -m curso_pytorch.workers``) que califica tareas una tras otra:
    importa nbgrader una sola vez. Tareas y resultados viajan en *pickle* por sus tuberías; si el
    hijo muere, la entrega queda con su motivo y se arranca otro."""

    def __init__(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "curso_pytorch.workers"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )

    def run(self, task: Task) -> Result:
        try:
            pickle.dump(task, self.process.stdin)
            self.process.stdin.flush()
            return pickle.load(self.process.stdout)
        except Exception:  # noqa: BLE001 (el hijo murió o no respondió)
            self.log.seek(0)
            lines = self.log.read().decode(errors="replace").strip().splitlines()
            self.close()
            self.__init__()
            detail = lines[-1] if lines else "sin detalles"
            return Result(task.lab, task.student, ok=False, problem=f"el proceso corrector terminó mal: {detail}")

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.process.kill()
        self.log.close()


def write_files(course_dir: Path, result: Result) -> None:
    folder = Path(course_dir) / "autograded" / result.student / result.lab
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, content in result.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    report = [c.__dict__ for c in result.cells]
    (folder / ".motivos.json").write_text(json.dumps({"problema": result.problem, "celdas": report}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    # Proceso hijo de ``_Worker``: una tarea tras otra hasta que se cierre su entrada. Lo que
    # imprima nbgrader va a stderr. (Las clases deben ser las del módulo importado, no las de
    # __main__, para que el padre pueda leer los resultados.)
    from curso_pytorch import workers

    tasks, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    while True:
        try:
            task = pickle.load(tasks)
        except EOFError:
            break
        pickle.dump(workers.run_task(task), out)
        out.flush()
