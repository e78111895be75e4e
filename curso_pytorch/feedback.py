"""Preprocesadores de la retroalimentación que recibe el alumno."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


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
