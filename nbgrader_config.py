"""Configuración de nbgrader para el curso de PyTorch.

La carpeta del curso es la que contiene este archivo: source/, release/, submitted/,
autograded/, feedback/ y gradebook.db (SQLite, ignorado por git).
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, GetGrades,
                                    IgnorePattern, LimitOutput, SaveAutoGrades)

from curso_pytorch.execute import SafeExecute
from curso_pytorch.feedback import TEMPLATES, FeedbackSummary, SanitizeStudentHTML, ShortErrors, install_course_validator
from curso_pytorch.course import STUB_CODE

c = get_config()  # noqa: F821 (nbgrader define get_config al leer este archivo)

c.CourseDirectory.course_id = "curso-pytorch"
# Libro de calificaciones SQLite por defecto; la URL se deduce de la raíz del curso.

# Tiempo máximo por celda (s): las pruebas ocultas entrenan de verdad; un bucle
# infinito del alumno se corta aquí y esa celda puntúa 0.
c.Execute.timeout = 120

# Cada entrega se ejecuta aislada y con límites (curso_pytorch/execute.py y sandbox.py):
# sin red, sin ver el curso ni otras entregas, con memoria, CPU, procesos y salida acotados.
# Es el Execute de nbgrader con esas defensas; el resto de la cadena es la de nbgrader.
c.Autograde.autograde_preprocessors = [SafeExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.SafeExecute.memory_mb = 4096          # memoria del núcleo
c.SafeExecute.cpu_seconds = 1800        # tiempo de CPU del núcleo
c.SafeExecute.processes = 256           # procesos e hilos (con cgroups)
c.SafeExecute.notebook_seconds = 1800   # tiempo total de un cuaderno

# Lo que ve el alumno en lugar de la solución.
c.ClearSolutions.code_stub = {
    "python": STUB_CODE,   # «# TU CÓDIGO AQUÍ» y raise NotImplementedError("Completa este ejercicio")
}
c.ClearSolutions.text_stub = "ESCRIBE AQUÍ TU RESPUESTA"

# nbgrader pone a 0 una celda de pruebas que escribe en stderr. Los avisos inofensivos de
# las bibliotecas (UserWarning, FutureWarning, DeprecationWarning) no deben costar puntos.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(UserWarning|FutureWarning|DeprecationWarning)"

# La retroalimentación no muestra el código de las pruebas ocultas: ni en las celdas
# (ClearHiddenTests) ni en las pilas de llamadas de sus errores (ShortErrors).
# FeedbackSummary prepara el resumen de la página (puntos por parte, pruebas visibles y ocultas,
# motivo de cada punto perdido) antes de que ClearHiddenTests quite las pruebas ocultas. Lo que
# escribió el alumno (markdown, salidas HTML) se limpia: sin <script> ni atributos on*.
c.GenerateFeedback.preprocessors = [GetGrades, FeedbackSummary, ClearHiddenTests, ShortErrors,
                                    SanitizeStudentHTML, CSSHTMLHeaderPreprocessor]

# La página de retroalimentación es la plantilla del curso (en español, con el resumen arriba y
# sin líneas que se salgan de su caja), curso_pytorch/templates/feedback/, sobre la de nbgrader:
# NbGraderAPI.generate_feedback impone el nombre «feedback» y nbconvert toma la primera carpeta
# con ese nombre de extra_template_basedirs (la del curso va antes que la de nbgrader).
import os.path as _path  # noqa: E402
import nbgrader as _nbgrader  # noqa: E402

c.HTMLExporter.template_name = "feedback"
c.HTMLExporter.extra_template_basedirs = [
    str(TEMPLATES),
    _path.join(_path.dirname(_nbgrader.__file__), "server_extensions", "formgrader", "templates"),
]

# «Validate» (JupyterLab y nbgrader validate) en español y corto: por cada celda que falla, su
# nombre y su error en una línea (curso_pytorch.feedback.CourseValidator), no su código.
install_course_validator()
c.Validator.failed_warning = ("{num_failed} celda(s) de pruebas no pasan las pruebas visibles. Si entregas el "
                              "cuaderno así, no tendrás la nota completa.\n")
c.Validator.changed_warning = ("Cambió el código de {num_changed} celda(s) de pruebas: al calificar se usará el "
                               "original, así que pasar ahora no garantiza pasar después.\n")
c.Validator.type_changed_warning = ("Cambió el tipo de {num_changed} celda(s) (de código a texto o al revés): "
                                    "al calificar no contarán como esperas.\n")
c.Validator.passed_warning = "El cuaderno supera {num_passed} celda(s) de pruebas.\n"
