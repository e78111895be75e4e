"""Publicar: la versión del alumno (``release/``) a partir de ``source/``, y comprobar que está al día."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nbformat

from . import gradebook
from .course import CourseError, db_url, lab_notebooks, labs, nbgrader_api, require_success


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


def parse_due_date(text: str):
    """«AAAA-MM-DD HH:MM [zona]» (zona: «Europe/Madrid», «+0100»...; sin zona, UTC) -> UTC."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text.strip())
    except (ValueError, OverflowError) as error:
        raise CourseError(
            f"Fecha límite no válida: «{text}» ({error}). Use «AAAA-MM-DD HH:MM», con la zona horaria "
            "detrás si no es UTC: «2026-12-15 23:59 Europe/Madrid»."
        ) from None


def publish(course_dir: Path, lab: str | None = None, due: str | None = None) -> list[str]:
    """Genera la versión del alumno (``release/``) de un laboratorio o de todos.

    ``due`` fija la fecha límite del laboratorio en el libro de calificaciones: nbgrader calcula
    con ella el retraso de cada entrega y su recargo (``LateSubmissionPlugin.penalty_method``).
    """
    course_dir = Path(course_dir)
    if due and not lab:
        raise CourseError("Una fecha límite es de un laboratorio: «curso publicar LAB --fecha-limite FECHA».")
    deadline = parse_due_date(due) if due else None
    api = nbgrader_api(course_dir)
    chosen = [lab] if lab else labs(course_dir)
    for name in chosen:
        if not (course_dir / "source" / name).is_dir():
            raise CourseError(f"No existe el laboratorio «{name}» en source/. Laboratorios: {', '.join(labs(course_dir))}.")
        require_success(f"publicar {name}", api.generate_assignment(name, force=True, create=True))
        for notebook in lab_notebooks(course_dir / "release" / name):
            normalize_notebook(notebook)
    if deadline:
        gradebook.set_due_date(db_url(course_dir), lab, deadline)
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
        # Lo que deja JupyterLab al abrir release/ (.ipynb_checkpoints) no es parte de la publicación.
        committed = {p for p in committed if not any(part.startswith(".") for part in p.parts)}
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


# --------------------------------------------------------------------------- soluciones comentadas

#: Las soluciones comentadas de cada laboratorio (``soluciones/<lab>.ipynb``): fuera de ``source/<lab>/``,
#: cuyos archivos copia nbgrader al alumno, y fuera de ``release/``.
SOLUTIONS_DIR = "soluciones"
#: Adónde las copia ``curso soluciones`` para repartirlas como ``release/`` (intercambio, LMS o repositorio).
PUBLISHED_SOLUTIONS_DIR = Path("publicado") / "soluciones"


def solutions_notebook(course_dir: Path, lab: str) -> Path:
    """El cuaderno de soluciones comentadas de ``lab`` (exista o no)."""
    return Path(course_dir) / SOLUTIONS_DIR / f"{lab}.ipynb"


def utc_now():
    """Ahora, en UTC y sin zona (como las fechas límite del libro de calificaciones de nbgrader)."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def publish_solutions(course_dir: Path, lab: str, force: bool = False, now=None) -> tuple[Path, object]:
    """Copia las soluciones comentadas de ``lab`` a ``publicado/soluciones/`` (sin salidas).

    Antes de la fecha límite del laboratorio (la de ``curso publicar LAB --fecha-limite``) se niega,
    salvo con ``force``. Devuelve la ruta publicada y la fecha límite (``datetime`` UTC o None).
    """
    course_dir = Path(course_dir)
    if lab not in labs(course_dir):
        raise CourseError(f"No existe el laboratorio «{lab}» en source/. Laboratorios: {', '.join(labs(course_dir))}.")
    companion = solutions_notebook(course_dir, lab)
    if not companion.is_file():
        ready = sorted(p.stem for p in (course_dir / SOLUTIONS_DIR).glob("*.ipynb") if p.stem in labs(course_dir))
        missing = companion.relative_to(course_dir)
        raise CourseError(f"El laboratorio «{lab}» no tiene soluciones comentadas ({missing}). "
                          f"Laboratorios con soluciones: {', '.join(ready) or 'ninguno'}.")
    due = gradebook.due_date(db_url(course_dir), lab)
    now = now or utc_now()
    if due and now < due and not force:
        raise CourseError(f"Aún no ha pasado la fecha límite de «{lab}» ({due:%Y-%m-%d %H:%M} UTC): "
                          "los alumnos todavía pueden entregar. Publique las soluciones después de esa fecha "
                          "o, si de verdad quiere hacerlo ya, añada --forzar.")
    target = course_dir / PUBLISHED_SOLUTIONS_DIR / companion.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(companion, target)
    normalize_notebook(target)
    return target, due
