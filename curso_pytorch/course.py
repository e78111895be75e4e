"""Flujo de nbgrader del curso: publicar, entregas de ejemplo, calificar, retroalimentación, notas.

Todo pasa por la API de Python de nbgrader (``NbGraderAPI``) sobre una carpeta de curso
(la que contiene ``nbgrader_config.py``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"

DEMO_STUDENTS = {"referencia": "reference", "en_blanco": "release"}


def is_test_cell(cell) -> bool:
    """Una celda de pruebas calificada (código con puntos, sin solución del alumno)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class CourseError(RuntimeError):
    """Un paso del flujo de nbgrader falló; el mensaje (en español) dice cuál y por qué."""


def _quiet_gradebook_warnings() -> None:
    # nbgrader 0.9 con SQLAlchemy 2 avisa de relaciones «not in session»: son inofensivas.
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)


def _api(course_dir: Path, db_url: str | None = None, data_dir: str | None = None, cpus: float = 0.0):
    _quiet_gradebook_warnings()
    # nbgrader llama a «alembic» por el PATH: que encuentre el del entorno en uso.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    course_dir = Path(course_dir).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    if db_url:
        config.CourseDirectory.db_url = db_url
    if data_dir:
        config.SafeExecute.data_dir = str(data_dir)
    if cpus and "cpus" not in config.SafeExecute:
        config.SafeExecute.cpus = float(cpus)
    return NbGraderAPI(config=config)


def db_url(course_dir: Path) -> str:
    """URL del libro de calificaciones: ``CourseDirectory.db_url`` de la configuración
    (p. ej. PostgreSQL) o, por defecto, ``gradebook.db`` (SQLite) en la carpeta del curso."""
    return _api(course_dir).coursedir.db_url


def _run(step: str, result: dict) -> dict:
    if not result.get("success"):
        detail = (result.get("log") or "") + (result.get("error") or "")
        raise CourseError(f"Falló «{step}».\n{detail.strip()}")
    return result


def labs(course_dir: Path) -> list[str]:
    """Los laboratorios de ``source/`` (una carpeta por laboratorio), en orden."""
    source = Path(course_dir) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _lab_notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


# --------------------------------------------------------------------------- publicar


def normalize_notebook(path: Path) -> None:
    """Sin salidas, sin contadores y con metadatos estables (kernelspec python3)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
    )
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
    nbformat.write(nb, path)


def publish(course_dir: Path, lab: str | None = None) -> list[str]:
    """Genera la versión del alumno (``release/``) de un laboratorio o de todos."""
    course_dir = Path(course_dir)
    api = _api(course_dir)
    chosen = [lab] if lab else labs(course_dir)
    for name in chosen:
        if not (course_dir / "source" / name).is_dir():
            raise CourseError(f"No existe el laboratorio «{name}» en source/.")
        _run(f"publicar {name}", api.generate_assignment(name, force=True, create=True))
        for notebook in _lab_notebooks(course_dir / "release" / name):
            normalize_notebook(notebook)
    return chosen


def _comparable(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def stale_release(course_dir: Path) -> list[str]:
    """Lista lo que difiere entre ``release/`` y lo que generaría ``source/`` ahora mismo."""
    course_dir = Path(course_dir)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        shutil.copy(course_dir / "nbgrader_config.py", scratch)
        shutil.copytree(course_dir / "source", scratch / "source")
        publish(scratch)
        fresh_root, committed_root = scratch / "release", course_dir / "release"
        fresh = {p.relative_to(fresh_root) for p in fresh_root.rglob("*") if p.is_file()}
        committed = (
            {p.relative_to(committed_root) for p in committed_root.rglob("*") if p.is_file()}
            if committed_root.is_dir()
            else set()
        )
        committed = {p for p in committed if p.name != ".gitkeep"}
        for missing in sorted(fresh - committed):
            problems.append(f"falta en release/: {missing}")
        for extra in sorted(committed - fresh):
            problems.append(f"sobra en release/: {extra}")
        for common in sorted(fresh & committed):
            a, b = fresh_root / common, committed_root / common
            same = _comparable(a) == _comparable(b) if a.suffix == ".ipynb" else a.read_bytes() == b.read_bytes()
            if not same:
                problems.append(f"desactualizado en release/: {common}")
    return problems


# --------------------------------------------------------------------------- entregas


def _strip_solution_markers(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)]
    return "\n".join(lines)


def reference_notebook(course_dir: Path, lab: str, notebook: str) -> nbformat.NotebookNode:
    """La copia del alumno con cada celda de respuesta rellena con la solución de referencia."""
    course_dir = Path(course_dir)
    source = nbformat.read(course_dir / "source" / lab / notebook, as_version=4)
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: _strip_solution_markers(cell.source)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    release = nbformat.read(course_dir / "release" / lab / notebook, as_version=4)
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in solutions:
            cell.source = solutions[grade_id]
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
        names = [p.name for p in _lab_notebooks(course_dir / "release" / lab)]
        for student, kind in DEMO_STUDENTS.items():
            if kind == "reference":
                notebooks = {n: reference_notebook(course_dir, lab, n) for n in names}
            else:
                notebooks = {n: nbformat.read(course_dir / "release" / lab / n, as_version=4) for n in names}
            submit(course_dir, lab, student, notebooks)
            made.append((student, lab))
    return made


# --------------------------------------------------------------------------- calificar


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


@dataclass
class GradeOutcome:
    student: str
    lab: str
    ok: bool
    message: str = ""
    result: object = None  # workers.Result: puntos y motivo por celda


def diagnose_submission(folder: Path, expected: list[str]) -> str | None:
    """Motivo en español por el que una entrega no se puede calificar entera, o None."""
    problems = []
    for name in expected:
        path = Path(folder) / name
        if not path.is_file():
            problems.append(f"falta el cuaderno {name}")
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


def prepare_data(course_dir: Path, report=print) -> Path:
    """Deja los datos en la caché del curso antes de calificar: dentro de la caja solo se leen.
    Devuelve la carpeta de la caché."""
    from .data import DATA_DIR_ENV, provision

    root = Path(os.environ.get(DATA_DIR_ENV) or Path(course_dir).resolve() / "data").resolve()
    for name, status in provision(root=root).items():
        if status != "listo":
            report(f"AVISO: {name} no está en la caché ({root}); las pruebas que lo usan fallarán.")
    return root


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
    from . import gradebook, sandbox, workers as pool

    course_dir = Path(course_dir).resolve()
    pending = submissions(course_dir, lab, student)
    if not pending:
        return []
    url = db_url(course_dir)
    known = _known_labs(url)
    missing = sorted({which for _, which in pending} - known)
    if missing:
        raise CourseError(f"Publica antes estos laboratorios («curso publicar»): {', '.join(missing)}.")
    report(sandbox.describe())
    data_dir = prepare_data(course_dir, report)
    templates = {which: pool.lab_template(course_dir, which) for which in sorted({w for _, w in pending})}
    # Cada caja, como mucho su parte de los núcleos: una entrega hostil no frena a las demás.
    cpus = max(1.0, pool.default_workers() / max(1, workers)) if not scheduler else 0.0
    tasks = [pool.make_task(course_dir, which, who, templates[which], data_dir, cpus) for who, which in pending]
    where = f"el clúster {scheduler}" if scheduler else f"{workers} proceso(s)"
    report(f"Calificando {len(tasks)} entrega(s) en {where}...")
    outcomes, start = [], time.perf_counter()
    for number, result in enumerate(pool.run_all(tasks, workers, scheduler), 1):
        pool.write_files(course_dir, result)
        gradebook.record(url, result)
        outcome = GradeOutcome(result.student, result.lab, result.ok, result.problem, result)
        outcomes.append(outcome)
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


def _known_labs(url: str) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {a.name for a in gb.assignments}


def _last_error_line(result: dict) -> str:
    """La causa más concreta que deja nbgrader en su registro (la última excepción nombrada)."""
    text = (result.get("log") or "") + (result.get("error") or "")
    causes = [ln.strip() for ln in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception)\b.*: ", ln) and "Please see the" not in ln]
    errors = [ln for ln in text.splitlines() if ln.startswith("[ERROR]") and "Please see the" not in ln]
    last = causes or errors or text.strip().splitlines()[-1:] or ["error desconocido"]
    return "nbgrader no pudo calificar: " + last[-1][:300]


def feedback(course_dir: Path, lab: str | None = None, student: str | None = None, report=print) -> int:
    """Genera la retroalimentación HTML de cada entrega calificada. Devuelve cuántas.

    Una entrega sin cuaderno calificado (vacía, rota o con otro nombre) no tiene retroalimentación;
    su motivo ya lo dio ``grade``. Un fallo en una no detiene a las demás.
    """
    course_dir = Path(course_dir)
    api = _api(course_dir)
    count = 0
    for who, which in submissions(course_dir, lab, student):
        folder = course_dir / "autograded" / who / which
        if not any(folder.glob("*.ipynb")):
            continue
        try:
            _run(f"retroalimentación {which} · {who}", api.generate_feedback(which, who, force=True))
            count += 1
        except CourseError as error:
            report(f"AVISO: {str(error).splitlines()[0]}")
    return count


# --------------------------------------------------------------------------- notas


@dataclass
class GradeRow:
    student: str
    lab: str
    score: float | None
    max_score: float


def grade_rows(course_dir: Path) -> list[GradeRow]:
    """Nota de cada alumno en cada laboratorio según el libro de calificaciones."""
    from nbgrader.api import Gradebook, MissingEntry

    course_dir = Path(course_dir)
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


def hidden_test_snippets(course_dir: Path, lab: str) -> list[str]:
    """Líneas de código de las pruebas ocultas de un laboratorio (para comprobar que no se filtran)."""
    snippets = []
    for notebook in _lab_notebooks(Path(course_dir) / "source" / lab):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if HIDDEN_BEGIN in cell.source:
                hidden = cell.source.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0]
                snippets += [ln.strip() for ln in hidden.splitlines() if len(ln.strip()) > 20]
    return snippets


def solution_snippets(course_dir: Path, lab: str) -> list[str]:
    """Líneas de código de las soluciones de un laboratorio (para comprobar que no se filtran)."""
    snippets = []
    pattern = re.compile(re.escape(SOLUTION_BEGIN) + r"(.*?)" + re.escape(SOLUTION_END), re.S)
    for notebook in _lab_notebooks(Path(course_dir) / "source" / lab):
        for cell in nbformat.read(notebook, as_version=4).cells:
            for block in pattern.findall(cell.source):
                snippets += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 20]
    return snippets
