"""La retroalimentación que recibe el alumno: las páginas HTML de ``feedback/`` y sus preprocesadores."""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .course import CourseError, nbgrader_api, require_success
from .submissions import submissions


def feedback(course_dir: Path, lab: str | None = None, student: str | None = None, report=print) -> int:
    """Genera la retroalimentación HTML de cada entrega calificada. Devuelve cuántas.

    Una entrega sin cuaderno calificado (vacía, rota o con otro nombre) no tiene retroalimentación;
    su motivo ya lo dio la calificación. Un fallo en una no detiene a las demás.
    """
    course_dir = Path(course_dir)
    api = nbgrader_api(course_dir)
    count = 0
    for who, which in submissions(course_dir, lab, student):
        folder = course_dir / "autograded" / who / which
        if not any(folder.glob("*.ipynb")):
            continue
        try:
            require_success(f"retroalimentación {which} · {who}", api.generate_feedback(which, who, force=True))
            count += 1
        except CourseError as error:
            report(f"AVISO: {str(error).splitlines()[0]}")
    return count


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
