"""Configuración de nbgrader para el curso de PyTorch.

La carpeta del curso es la que contiene este archivo: source/, release/, submitted/,
autograded/, feedback/ y gradebook.db (SQLite, ignorado por git).
"""

from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

from curso_pytorch.feedback import ShortErrors

c = get_config()  # noqa: F821 (nbgrader define get_config al leer este archivo)

c.CourseDirectory.course_id = "curso-pytorch"
# Libro de calificaciones SQLite por defecto; la URL se deduce de la raíz del curso.

# Tiempo máximo por celda (s): las pruebas ocultas entrenan de verdad; un bucle
# infinito del alumno se corta aquí y esa celda puntúa 0.
c.Execute.timeout = 120

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
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortErrors, CSSHTMLHeaderPreprocessor]
