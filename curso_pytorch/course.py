"""La carpeta del curso y la API de nbgrader sobre ella: la base de las demás herramientas.

Un curso es la carpeta que contiene ``nbgrader_config.py`` y ``source/`` (una carpeta por
laboratorio). Aquí viven los errores del curso, la API de nbgrader con la configuración del
curso, la URL del libro de calificaciones, la lista de laboratorios y de sus cuadernos, las
marcas de soluciones y pruebas ocultas, y cómo se reconoce una celda calificada.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
#: Dentro del bloque oculto de una celda de pruebas, lo que sigue a esta línea es del juez
#: (``curso_pytorch.judge``): se ejecuta fuera del núcleo del alumno.
JUDGE_MARK = "### JUEZ"

#: Los puntos y el motivo de cada celda de una entrega calificada, en autograded/<alumno>/<lab>/.
REASONS_FILE = ".motivos.json"

#: Mensaje del esbozo que sustituye a cada solución en la copia del alumno
#: (``c.ClearSolutions.code_stub`` en ``nbgrader_config.py``).
STUB_MESSAGE = "Completa este ejercicio"
STUB_CODE = f'# TU CÓDIGO AQUÍ\nraise NotImplementedError("{STUB_MESSAGE}")'

#: La caché de las referencias del juez, en el curso (fuera de lo que ve el núcleo del alumno).
REFERENCES = ".referencias"


class CourseError(RuntimeError):
    """Un paso del flujo de nbgrader falló; el mensaje (en español) dice cuál y por qué."""


class GradingSetupError(CourseError):
    """La preparación de quien califica está incompleta (faltan datos, por ejemplo): no se
    califica a nadie, para que ningún alumno saque un 0 que no es suyo."""


def printable(text) -> str:
    """Sin secuencias ANSI ni caracteres de control: lo que se imprime en la terminal de quien
    califica puede venir de un alumno (el mensaje de una excepción, el nombre de un archivo)."""
    text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]", "", str(text))
    return "".join(ch if ch.isprintable() else " " for ch in text)


# --------------------------------------------------------------------------- celdas


def grade_id(cell) -> str | None:
    """El identificador nbgrader de una celda calificada o de respuesta (None si no tiene)."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_solution_cell(cell) -> bool:
    """Una celda de respuesta del alumno."""
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def is_test_cell(cell) -> bool:
    """Una celda de pruebas calificada (código con puntos, sin solución del alumno)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def split_judge(source: str) -> tuple[str, str]:
    """(código para el núcleo, código del juez) de una celda de pruebas. Sin ``### JUEZ`` el juez
    queda vacío y la celda se califica como siempre (en el núcleo)."""
    kernel, judge = [], []
    hidden = in_judge = False
    for line in source.splitlines(keepends=True):
        mark = line.strip()
        if mark == HIDDEN_BEGIN:
            hidden = True
        elif mark == HIDDEN_END:
            hidden = in_judge = False
        elif hidden and mark == JUDGE_MARK:
            in_judge = True
            continue
        (judge if in_judge else kernel).append(line)
    return "".join(kernel), "".join(judge)


# --------------------------------------------------------------------------- carpeta del curso


def labs(course_dir: Path) -> list[str]:
    """Los laboratorios de ``source/`` (una carpeta por laboratorio), en orden."""
    source = Path(course_dir) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def closest_lab(course_dir: Path, name: str) -> str | None:
    """El laboratorio de nombre más parecido a ``name`` (una errata), o None."""
    import difflib

    return next(iter(difflib.get_close_matches(name, labs(course_dir), n=1)), None)


def lab_notebooks(folder: Path) -> list[Path]:
    """Los cuadernos de una carpeta de laboratorio (sin los ocultos ni los de ``.ipynb_checkpoints``)."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if not p.name.startswith("."))


# --------------------------------------------------------------------------- nbgrader


def prepare_nbgrader() -> None:
    """Ajustes de nbgrader para este proceso (una vez): sin los avisos inofensivos de SQLAlchemy y
    sin lanzar «alembic heads» en otro proceso cada vez que se crea un libro de calificaciones."""
    import warnings

    import nbgrader.api
    from sqlalchemy.exc import SAWarning

    # nbgrader 0.9 con SQLAlchemy 2 avisa de relaciones «not in session»: son inofensivas.
    warnings.filterwarnings("ignore", category=SAWarning)
    if getattr(nbgrader.api.get_alembic_version, "__module__", "") != __name__:
        fallback = nbgrader.api.get_alembic_version
        nbgrader.api.get_alembic_version = lambda: alembic_head() or fallback()


def alembic_head() -> str | None:
    """La última revisión de las migraciones de nbgrader, leída de sus archivos (lo mismo que
    responde ``alembic heads``, que tarda segundos: arranca otro intérprete). None si no hay una."""
    global _ALEMBIC_HEAD
    if _ALEMBIC_HEAD is None:
        import nbgrader

        revisions, parents = set(), set()
        for path in (Path(nbgrader.__file__).parent / "alembic" / "versions").glob("*.py"):
            text = path.read_text(encoding="utf-8")
            revision = re.search(r"^revision\s*=\s*['\"](\w+)['\"]", text, re.M)
            down = re.search(r"^down_revision\s*=(.*)$", text, re.M)
            if revision:
                revisions.add(revision.group(1))
                parents.update(re.findall(r"['\"](\w+)['\"]", down.group(1) if down else ""))
        heads = revisions - parents
        _ALEMBIC_HEAD = heads.pop() if len(heads) == 1 else ""
    return _ALEMBIC_HEAD or None


def open_gradebook(url: str):
    """El libro de calificaciones de nbgrader en ``url`` (``with open_gradebook(url) as gb:``)."""
    prepare_nbgrader()
    from nbgrader.api import Gradebook

    return Gradebook(url)


_ALEMBIC_HEAD: str | None = None


def nbgrader_api(course_dir: Path, db_url: str | None = None, data_dir: str | None = None, cpus: float = 0.0,
                 references_dir: str | None = None, prestart_next: bool = False):
    """La API de nbgrader (``NbGraderAPI``) con la configuración del curso de ``course_dir``.

    ``db_url`` sustituye al libro de calificaciones; ``data_dir``, ``cpus`` y ``references_dir``, a
    la caché de datos, a la cuota de CPU de la caja y a la caché de referencias del juez
    (``SafeExecute``); ``prestart_next`` arranca de antemano el núcleo de la entrega siguiente.
    """
    prepare_nbgrader()
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
    if references_dir:
        config.SafeExecute.references_dir = str(references_dir)
    if prestart_next and "prestart_next" not in config.SafeExecute:
        config.SafeExecute.prestart_next = True
    return NbGraderAPI(config=config)


def require_success(step: str, result: dict) -> dict:
    """El resultado de una llamada a la API de nbgrader, o ``CourseError`` con su registro."""
    if not result.get("success"):
        detail = (result.get("log") or "") + (result.get("error") or "")
        raise CourseError(f"Falló «{step}».\n{detail.strip()}")
    return result


def db_url(course_dir: Path) -> str:
    """URL del libro de calificaciones: ``CourseDirectory.db_url`` de la configuración
    (p. ej. PostgreSQL) o, por defecto, ``gradebook.db`` (SQLite) en la carpeta del curso."""
    return nbgrader_api(course_dir).coursedir.db_url
