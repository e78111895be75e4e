"""Calificar (``curso calificar``): coordina la calificación de las entregas de ``submitted/``.

Para cada laboratorio prepara una plantilla (un curso mínimo con la configuración, su carpeta de
``source/`` y un libro de calificaciones que solo lo conoce a él); para cada entrega, una tarea
con la plantilla y los archivos entregados. Las tareas se ejecutan donde diga
``curso_pytorch.workers`` (aquí, en procesos o en Dask) y cada una se califica en su carpeta
privada (``curso_pytorch.autograde``). Según llegan los resultados, este proceso, el único que
escribe en el curso, deja los archivos en ``autograded/`` y las notas en el libro.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import gradebook, sandbox, workers as pool
from .autograde import Result, Task
from .course import CourseError, db_url, nbgrader_api, require_success
from .data import data_root, provision
from .submissions import submission_files, submissions


@dataclass
class GradeOutcome:
    student: str
    lab: str
    ok: bool
    message: str = ""
    result: Result | None = None  # puntos y motivo por celda


def grade(
    course_dir: Path,
    lab: str | None = None,
    student: str | None = None,
    report=print,
    workers: int = 1,
    scheduler: str | None = None,
) -> list[GradeOutcome]:
    """Califica cada entrega, aislada, en ``workers`` procesos o en el clúster Dask ``scheduler``.

    Un fallo en una entrega no detiene las demás y siempre deja una nota (0 en lo que no se pudo
    ejecutar) con su motivo. Solo este proceso escribe en el libro de calificaciones.
    """
    course_dir = Path(course_dir).resolve()
    pending = submissions(course_dir, lab, student)
    if not pending:
        return []
    url = db_url(course_dir)
    missing = sorted({which for _, which in pending} - gradebook.known_labs(url))
    if missing:
        raise CourseError(f"Publica antes estos laboratorios («curso publicar»): {', '.join(missing)}.")
    report(sandbox.describe())
    data_dir = prepare_data(course_dir, report)
    templates = {which: lab_template(course_dir, which) for which in sorted({w for _, w in pending})}
    # Cada caja, como mucho su parte de los núcleos: una entrega hostil no frena a las demás.
    cpus = max(1.0, pool.default_workers() / max(1, workers)) if not scheduler else 0.0
    tasks = [
        Task(which, who, templates[which], submission_files(course_dir, which, who), str(data_dir), cpus)
        for who, which in pending
    ]
    where = f"el clúster {scheduler}" if scheduler else f"{workers} proceso(s)"
    report(f"Calificando {len(tasks)} entrega(s) en {where}...")
    outcomes, start = [], time.perf_counter()
    for number, result in enumerate(pool.run_all(tasks, workers, scheduler), 1):
        write_files(course_dir, result)
        gradebook.record(url, result)
        outcomes.append(GradeOutcome(result.student, result.lab, result.ok, result.problem, result))
        status = f"{result.score:g}/{result.max_score:g} puntos" if result.ok else f"ERROR: {result.problem}"
        report(f"[{number}/{len(tasks)}] {result.lab} · {result.student}: {status} ({result.seconds:.0f} s)")
        for note in result.notes:
            report(f"    {note}")
    failed = sum(not o.ok for o in outcomes)
    report(
        f"Resumen: {len(outcomes) - failed} entrega(s) calificada(s), {failed} con problemas, "
        f"en {time.perf_counter() - start:.0f} s."
    )
    outcomes.sort(key=lambda o: (o.lab, o.student))
    return outcomes


def prepare_data(course_dir: Path, report=print) -> Path:
    """Deja los datos en la caché del curso antes de calificar: dentro de la caja solo se leen.
    Devuelve la carpeta de la caché."""
    root = data_root(course=course_dir).resolve()
    for name, status in provision(root=root).items():
        if status != "listo":
            report(f"AVISO: {name} no está en la caché ({root}); las pruebas que lo usan fallarán.")
    return root


def _tar(folder: Path, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in names:
            tar.add(folder / name, arcname=name)
    return buffer.getvalue()


def lab_template(course_dir: Path, lab: str) -> bytes:
    """Curso mínimo para calificar ``lab``: la configuración, su carpeta de ``source/`` y un
    libro de calificaciones nuevo que solo lo conoce a él (sin alumnos ni notas)."""
    course_dir = Path(course_dir)
    with tempfile.TemporaryDirectory(prefix="curso-plantilla-") as tmp:
        root = Path(tmp)
        shutil.copy(course_dir / "nbgrader_config.py", root)
        shutil.copytree(course_dir / "source" / lab, root / "source" / lab)
        api = nbgrader_api(root, db_url=f"sqlite:///{root / 'gradebook.db'}")
        require_success(f"preparar {lab}", api.generate_assignment(lab, force=True))
        return _tar(root, ["nbgrader_config.py", "source", "gradebook.db"])


def write_files(course_dir: Path, result: Result) -> None:
    """Deja en ``autograded/<alumno>/<lab>/`` lo calificado y los motivos (``.motivos.json``)."""
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
