"""Configuración de nbgrader para el curso de PyTorch.

La carpeta del curso es la que contiene este archivo: source/, release/, submitted/,
autograded/, feedback/ y gradebook.db (SQLite, ignorado por git).
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, GetGrades,
                                    IgnorePattern, LimitOutput, SaveAutoGrades)

from curso_pytorch.execute import SafeExecute
from curso_pytorch.feedback import SanitizeStudentHTML, ShortErrors

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
    "python": '# TU CÓDIGO AQUÍ\nraise NotImplementedError("Completa este ejercicio")',
}
c.ClearSolutions.text_stub = "ESCRIBE AQUÍ TU RESPUESTA"

# nbgrader pone a 0 una celda de pruebas que escribe en stderr. Los avisos inofensivos de
# las bibliotecas (UserWarning, FutureWarning, DeprecationWarning) no deben costar puntos.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(UserWarning|FutureWarning|DeprecationWarning)"

# La retroalimentación no muestra el código de las pruebas ocultas: ni en las celdas
# (ClearHiddenTests) ni en las pilas de llamadas de sus errores (ShortErrors).
# Lo que escribió el alumno (markdown, salidas HTML) se limpia: sin <script> ni atributos on*.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortErrors, SanitizeStudentHTML,
                                      CSSHTMLHeaderPreprocessor]
