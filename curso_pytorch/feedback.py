"""La retroalimentación que recibe el alumno: las páginas HTML de ``feedback/`` y sus preprocesadores."""

from __future__ import annotations

import html
import json
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Bool

from .course import REASONS_FILE as REASONS, CourseError, lab_notebooks, nbgrader_api, require_success
from .submissions import submissions


def feedback(course_dir: Path, lab: str | None = None, student: str | None = None, report=print) -> int:
    """Genera la retroalimentación HTML de cada entrega calificada. Devuelve cuántas.

    Una entrega sin cuaderno calificado (vacía, rota o con otro nombre) recibe una página que
    explica su 0 con el motivo de la calificación. Un fallo en una no detiene a las demás.
    """
    course_dir = Path(course_dir)
    api = nbgrader_api(course_dir)
    count = 0
    for who, which in submissions(course_dir, lab, student):
        folder = course_dir / "autograded" / who / which
        if not (folder / REASONS).is_file() and not any(folder.glob("*.ipynb")):
            continue  # aún sin calificar
        try:
            if any(folder.glob("*.ipynb")):
                require_success(f"retroalimentación {which} · {who}", api.generate_feedback(which, who, force=True))
            else:
                _explain_zero(course_dir, who, which)
            count += 1
        except CourseError as error:
            report(f"AVISO: {str(error).splitlines()[0]}")
    return count


def stale(course_dir: Path) -> list[tuple[str, str]]:
    """Entregas (alumno, laboratorio) cuya retroalimentación es anterior a su última calificación."""
    course_dir = Path(course_dir)
    found = []
    for who, which in submissions(course_dir):
        graded = course_dir / "autograded" / who / which / REASONS
        pages = [p for p in (course_dir / "feedback" / who / which).glob("*.html")]
        if graded.is_file() and pages and min(p.stat().st_mtime for p in pages) < graded.stat().st_mtime:
            found.append((who, which))
    return found


def refresh_stale(course_dir: Path, report=print) -> int:
    """Regenera la retroalimentación de las entregas recalificadas. Devuelve cuántas."""
    count = 0
    for who, which in stale(course_dir):
        count += feedback(course_dir, which, who, report)
    return count


def _explain_zero(course_dir: Path, student: str, lab: str) -> None:
    """Una página por cuaderno del laboratorio con el motivo por el que la entrega no puntuó."""
    reasons = json.loads((course_dir / "autograded" / student / lab / REASONS).read_text(encoding="utf-8"))
    problem = reasons.get("problema") or "la entrega no tiene ningún cuaderno calificable"
    cells = "".join(
        f"<tr><td>{html.escape(c['grade_id'])}</td><td>{c['score']:g} / {c['max_score']:g}</td></tr>"
        for c in reasons.get("celdas", [])
    )
    folder = course_dir / "feedback" / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in lab_notebooks(course_dir / "source" / lab):
        page = (
            '<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8">'
            f"<title>{html.escape(lab)}: retroalimentación</title></head><body>"
            f"<h1>{html.escape(lab)}: sin nota</h1>"
            f"<p>No se pudo calificar tu entrega: {html.escape(problem)}.</p>"
            f"<p>Entrega el cuaderno <code>{html.escape(notebook.name)}</code> con ese nombre exacto "
            "y vuelve a enviarlo.</p>"
            + (f"<table><tr><th>Celda</th><th>Puntos</th></tr>{cells}</table>" if cells else "")
            + "</body></html>\n"
        )
        (folder / f"{notebook.stem}.html").write_text(page, encoding="utf-8")


class SanitizeStudentHTML(SanitizeHTML):
    """El ``SanitizeHTML`` de nbconvert, activado: el HTML que escribió el alumno (markdown,
    salidas) queda sin ``<script>`` ni atributos ``on...`` en la página de retroalimentación."""

    enabled = Bool(True, help="nbconvert desactiva sus preprocesadores por defecto").tag(config=True)


class ShortErrors(Preprocessor):
    """Reduce cada error de una celda calificada a una línea: «Tipo: mensaje».

    La pila de llamadas de IPython muestra líneas de código alrededor del fallo, y en una celda
    de pruebas esas líneas pueden ser pruebas ocultas. ``ClearHiddenTests`` limpia el código de
    la celda; esto limpia sus salidas.
    """

    enabled = Bool(True, help="nbconvert desactiva sus preprocesadores por defecto").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
