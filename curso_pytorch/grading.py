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
from .course import REASONS_FILE, REFERENCES, CourseError, GradingSetupError, db_url, nbgrader_api, printable, require_success
from .course import closest_lab, labs as course_labs
from .data import data_root, missing
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
    ejecutar) con su motivo; una carpeta que no es un laboratorio se informa y no se califica. Sin
    los datos de las pruebas no se califica a nadie (``GradingSetupError``). Solo este proceso
    escribe en el libro de calificaciones.
    """
    course_dir = Path(course_dir).resolve()
    pending, skipped = [], []
    for who, which in submissions(course_dir, lab, student):
        if (course_dir / "source" / which).is_dir():
            pending.append((who, which))
        else:
            skipped.append(GradeOutcome(who, which, False, misnamed_lab(course_dir, which)))
    # Por laboratorio: cada proceso corrector arranca de antemano el núcleo de su entrega siguiente,
    # que solo sirve si es del mismo laboratorio.
    pending.sort(key=lambda entry: (entry[1], entry[0]))
    for outcome in skipped:
        report(printable(f"AVISO: submitted/{outcome.student}/{outcome.lab}: {outcome.message}; no se califica."))
    if not pending:
        return skipped
    url = db_url(course_dir)
    missing = sorted({which for _, which in pending} - gradebook.known_labs(url))
    if missing:
        raise CourseError(f"Publica antes estos laboratorios («curso publicar»): {', '.join(missing)}.")
    report(sandbox.describe())
    data_dir = prepare_data(course_dir)
    templates = {which: lab_template(course_dir, which) for which in sorted({w for _, w in pending})}
    # Cada caja, como mucho su parte de los núcleos: una entrega hostil no frena a las demás.
    cpus = max(1.0, pool.default_workers() / max(1, workers)) if not scheduler else 0.0
    tasks = [
        Task(which, who, templates[which], submission_files(course_dir, which, who), str(data_dir), cpus,
             str(course_dir / REFERENCES))
        for who, which in pending
    ]
    where = f"el clúster {scheduler}" if scheduler else f"{workers} proceso(s)"
    report(f"Calificando {len(tasks)} entrega(s) en {where}...")
    outcomes, start = [], time.perf_counter()
    for number, result in enumerate(pool.run_all(tasks, workers, scheduler), 1):
        if result.setup_problem:
            # Un trabajador sin datos (en otra máquina, por ejemplo): nadie saca un 0 por ello.
            raise CourseError(f"{result.setup_problem} (trabajador {result.worker})")
        write_files(course_dir, result)
        gradebook.record(url, result)
        outcomes.append(GradeOutcome(result.student, result.lab, result.ok, result.problem, result))
        status = f"{result.score:g}/{result.max_score:g} puntos" if result.ok else f"ERROR: {result.problem}"
        report(printable(f"[{number}/{len(tasks)}] {result.lab} · {result.student}: {status} ({result.seconds:.0f} s)"))
        for note in result.notes:
            report(printable(f"    {note}"))
    failed = sum(not o.ok for o in outcomes)
    report(
        f"Resumen: {len(outcomes) - failed} entrega(s) calificada(s), {failed} con problemas, "
        f"en {time.perf_counter() - start:.0f} s."
    )
    outcomes += skipped
    outcomes.sort(key=lambda o: (o.lab, o.student))
    return outcomes


def misnamed_lab(course_dir: Path, folder: str) -> str:
    """Por qué una carpeta de ``submitted/<alumno>/`` no se califica, con la opción parecida."""
    close = closest_lab(course_dir, folder)
    hint = f" (¿quería decir «{close}»?)" if close else ""
    return f"«{folder}» no es un laboratorio del curso{hint}; laboratorios: {', '.join(course_labs(course_dir))}"


def prepare_data(course_dir: Path) -> Path:
    """Deja los datos en la caché del curso antes de calificar (dentro de la caja solo se leen) y
    devuelve su carpeta. Si falta alguno, no se califica: ``GradingSetupError``."""
    root = data_root(course=course_dir).resolve()
    absent = missing(root=root)
    if absent:
        detail = "\n".join(f"- {name}: {why}" for name, why in absent.items())
        raise GradingSetupError(
            f"No se califica: faltan en la caché {root} los datos que usan las pruebas, y sin ellos "
            f"todos los alumnos sacarían 0. No se ha escrito ninguna nota.\n{detail}"
        )
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
        url = f"sqlite:///{root / 'gradebook.db'}"
        api = nbgrader_api(root, db_url=url)
        require_success(f"preparar {lab}", api.generate_assignment(lab, force=True))
        # La fecha límite del curso: nbgrader calcula con ella el retraso y el recargo.
        gradebook.set_due_date(url, lab, gradebook.due_date(db_url(course_dir), lab))
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
    (folder / REASONS_FILE).write_text(json.dumps({"problema": result.problem, "celdas": report}, ensure_ascii=False, indent=1))
