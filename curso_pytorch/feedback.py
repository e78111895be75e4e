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
                    name = "Comprobación fallida" if output.get("ename") == "CheckFailed" else output.get("ename", "Error")
                    output["traceback"] = [f"{name}: {output.get('evalue', '')}"]
        return cell, resources


#: Carpeta de la plantilla de la página de retroalimentación (``feedback/``, sobre la de nbgrader).
TEMPLATES = Path(__file__).resolve().parent / "templates"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
VISIBLE_PASSED = ("superadas.", "superada.")  # lo último que imprime la parte visible de una celda


def _visible_code(source: str) -> bool:
    visible = source.split(HIDDEN_MARK)[0]
    return any(line.strip() and not line.lstrip().startswith("#") for line in visible.splitlines())


def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _saved_reasons(resources) -> dict[str, str]:
    """Motivos que guardó ``curso calificar`` junto al cuaderno calificado (``.motivos.json``)."""
    folder = (resources.get("metadata") or {}).get("path")
    path = Path(folder or ".") / REASONS
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("celdas", [])
    except (OSError, ValueError):
        return {}
    return {c.get("grade_id"): c.get("reason", "") for c in cells if c.get("reason")}


class FeedbackSummary(Preprocessor):
    """Prepara el resumen de la página de retroalimentación (``resources['curso']``).

    Por cada celda de pruebas: sus puntos, si pasaron sus pruebas visibles y las ocultas, y, si
    perdió puntos, dónde y por qué (el motivo de ``.motivos.json`` o el error de la celda, en una
    línea). Va antes de ``ClearHiddenTests``: mira si la celda tiene pruebas ocultas, nunca las
    copia.
    """

    enabled = Bool(True, help="nbconvert desactiva sus preprocesadores por defecto").tag(config=True)

    def preprocess(self, nb, resources):
        saved = _saved_reasons(resources)
        parts = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            points = float(meta.get("points") or 0)
            score = float(meta.get("score") or 0)
            full = score >= points
            has_visible, has_hidden = _visible_code(cell.source), HIDDEN_MARK in cell.source
            visible_ok = full or _printed(cell).rstrip().endswith(VISIBLE_PASSED)
            part = {"grade_id": meta.get("grade_id", ""), "points": points, "score": score, "full": full}
            if not has_visible:
                part["visible"], part["visible_class"] = "no tiene", "none"
            else:
                part["visible"], part["visible_class"] = ("superadas", "ok") if visible_ok else ("no superadas", "lost")
            if not has_hidden:
                part["hidden"], part["hidden_class"] = "no tiene", "none"
            elif full:
                part["hidden"], part["hidden_class"] = "superadas", "ok"
            elif has_visible and not visible_ok:
                part["hidden"], part["hidden_class"] = "no se ejecutaron (falló antes una visible)", "none"
            else:
                part["hidden"], part["hidden_class"] = "no superadas", "lost"
            if not full:
                part["where"] = ("en las pruebas visibles" if has_visible and not visible_ok
                                 else "en las pruebas ocultas" if has_hidden else "en la celda")
                shown = any(o.get("output_type") == "error" or o.get("name") == "stderr" for o in cell.get("outputs", []))
                part["reason"] = one_line_error(cell) if shown else saved.get(part["grade_id"]) or one_line_error(cell)
            parts.append(part)
        resources["curso"] = {"parts": parts, "lost": [p for p in parts if not p["full"]]}
        return nb, resources



# --------------------------------------------------------------------------- «Validate»


def one_line_error(cell) -> str:
    """El error de una celda en una línea, sin colores ni código: «Comprobación fallida: …»."""
    from nbconvert.filters import strip_ansi

    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            lines = [strip_ansi(line).strip() for line in output.get("traceback", []) if strip_ansi(line).strip()]
            if output.get("ename") == "CheckFailed" and lines:
                return lines[-1]
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            first = next((line for line in output.get("text", "").splitlines() if line.strip()), "")
            return f"la celda escribió en la salida de errores (stderr), y eso la deja sin puntos: {first[:200]}"
    return "la celda solo obtuvo parte de sus puntos"


def cell_label(cell) -> str:
    """Nombre corto de una celda calificada: «test_evaluate» (2 puntos)."""
    meta = cell.metadata.get("nbgrader", {})
    points = meta.get("points")
    name = meta.get("grade_id") or cell.get("id") or "celda"
    return f"«{name}»" + (f" ({points:g} {'punto' if points == 1 else 'puntos'})" if points else "")


def course_validator_class():
    """El ``Validator`` de nbgrader con informes cortos y en español (``CourseValidator``).

    Por cada celda que falla, «Validate» (JupyterLab y ``nbgrader validate``) muestra su nombre
    y su error en una línea, no su código ni la pila de llamadas. Los avisos generales son los
    rasgos ``Validator.failed_warning``... de ``nbgrader_config.py``.
    """
    from nbconvert.filters import ansi2html
    from nbgrader.validator import Validator

    class CourseValidator(Validator):
        def _get_failed_cells(self, nb):
            self._failed = super()._get_failed_cells(nb)
            return self._failed

        def validate(self, filename):
            self._failed = []
            results = super().validate(filename)
            if "failed" in results:
                results["failed"] = [
                    {"source": cell_label(cell), "error": ansi2html(one_line_error(cell)),
                     "raw_error": one_line_error(cell)}
                    for cell in self._failed
                ]
            return results

        def _print_error(self, source, error):
            self.stream.write(f"✗ {source}: {error}\n")

        def _print_num_failed(self, num_failed):
            if num_failed == 0:
                self.stream.write("¡Bien! El cuaderno supera todas las pruebas visibles.\n")
            else:
                self.stream.write(self.failed_warning.format(num_failed=num_failed))

    return CourseValidator


def install_course_validator() -> None:
    """Hace que «Validate» de JupyterLab y ``nbgrader validate`` usen ``CourseValidator``.

    nbgrader crea su ``Validator`` por nombre en esos dos módulos, sin un rasgo que elija la
    clase; ``nbgrader_config.py`` llama a esta función (se lee en cada validación).
    """
    from nbgrader.apps import validateapp
    from nbgrader.server_extensions.validate_assignment import handlers

    if not getattr(handlers.Validator, "course_validator", False):
        validator = course_validator_class()
        validator.course_validator = True
        handlers.Validator = validateapp.Validator = validator
