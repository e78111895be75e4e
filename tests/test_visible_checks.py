"""Las pruebas visibles bastan para saber que el trabajo va bien (en Colab no hay pruebas ocultas).

Para los laboratorios de esta lista, el «Validate» de nbgrader (que ejecuta el cuaderno con sus
pruebas visibles, como el alumno) no informa de ningún fallo con la solución de referencia, y
sí con cada error típico de ``BUGS`` del laboratorio: falla al menos una de las celdas de pruebas
cuyos puntos pierde ese error. Cada validación ejecuta el cuaderno entero (unos 15 s por
cuaderno en la máquina de CI de 2 núcleos).
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import shutil
from pathlib import Path

import nbformat

from curso_pytorch import course, lesson_cells, publish
from tests.grading import REPO, variant_notebook

# laboratorio -> módulo de sus pruebas de calificación (con BUGS)
LABS = {
    "03_entrenamiento": "tests.test_lab03_entrenamiento",
    "04_perdidas": "tests.test_lab04_perdidas",
}


def _course(root: Path, lab: str) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / lab, root / "source" / lab)
    publish.publish(root, lab)
    return root


def _validator(root: Path):
    """El validador que usan «Validate» de JupyterLab y ``nbgrader validate`` con la configuración
    del curso (``nbgrader_config.py`` instala ``CourseValidator``)."""
    from nbgrader.server_extensions.validate_assignment import handlers
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return handlers.Validator(config=config)


def _failed_cells(validator, path: Path) -> set[str]:
    """grade_id de las celdas que «Validate» da por fallidas (o el motivo, si falla otra cosa)."""
    result = validator.validate(str(path))
    failed = {re.match(r"«(.+?)»", cell["source"]).group(1) for cell in result.get("failed", [])}
    failed |= {f"cambio de tipo: {cell['source'][:40]}" for cell in result.get("type_changed", [])}
    failed |= {f"suma de control: {cell['source'][:40]}" for cell in result.get("changed", [])}
    return failed


class _VisibleChecksCatchEveryTypicalBug:
    """Una clase por laboratorio (``LAB``): pytest-xdist reparte cada una a un proceso distinto.

    La referencia se valida entera, como la valida el alumno. En cada error típico se quitan antes
    las celdas de la lección que las pruebas visibles no necesitan (``lesson_cells.skippable``,
    lo mismo que salta la calificación): el resultado de cada prueba visible no cambia y cada
    validación tarda menos."""

    LAB = ""

    def test_visible_checks_catch_every_typical_bug(self, tmp_path):
        lab = self.LAB
        bugs = importlib.import_module(LABS[lab]).BUGS
        root = _course(tmp_path / "curso", lab)
        validator = _validator(root)
        release = nbformat.read(root / "release" / lab / f"{lab}.ipynb", as_version=4)

        def validate(name: str, changes: dict, whole: bool = False) -> set[str]:
            (nb_name, nb), = variant_notebook(root, lab, changes).items()
            if not whole:
                skipped = lesson_cells.skippable(nb, release)
                nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in skipped]
            path = tmp_path / name / nb_name
            path.parent.mkdir()
            nbformat.write(nb, path)
            return _failed_cells(validator, path)

        assert validate("referencia", {}, whole=True) == set(), "la referencia no debe fallar ninguna prueba visible"
        assert validate("referencia_sin_leccion", {}) == set(), "sin las celdas que se saltan, tampoco"
        missed = {}
        for name, (changes, cells) in sorted(bugs.items()):
            failed = validate(name, changes)
            if not failed & cells:
                missed[name] = f"debía fallar alguna de {sorted(cells)}; fallaron {sorted(failed)}"
        assert not missed, f"errores típicos que las pruebas visibles no detectan: {missed}"


class TestVisibleChecks03Entrenamiento(_VisibleChecksCatchEveryTypicalBug):
    LAB = "03_entrenamiento"


class TestVisibleChecks04Perdidas(_VisibleChecksCatchEveryTypicalBug):
    LAB = "04_perdidas"


def test_every_lab_with_visible_checks_has_its_class():
    classes = {cls.LAB for cls in _VisibleChecksCatchEveryTypicalBug.__subclasses__()}
    assert classes == set(LABS)


def test_validate_report_is_short_and_in_spanish(tmp_path):
    """«Validate» de la copia en blanco: por cada celda que falla, su nombre y una línea de error en
    español (sin su código ni pilas de llamadas); el resumen de ``nbgrader validate``, también."""
    lab = "01_tensores"
    root = _course(tmp_path / "curso", lab)
    validator = _validator(root)
    assert type(validator).__name__ == "CourseValidator"
    blank = root / "release" / lab / f"{lab}.ipynb"
    result = validator.validate(str(blank))
    failed = result["failed"]
    release = nbformat.read(blank, as_version=4)
    visible = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
               and any(line.strip() and not line.startswith("#") for line in c.source.splitlines())]
    assert len(failed) == len(visible) == 4, failed
    for cell in failed:
        assert re.fullmatch(r"«test_\w+» \(\d+ puntos?\)", cell["source"]), cell["source"]
        assert "\n" not in cell["raw_error"], cell["raw_error"]
        assert re.fullmatch(r"Comprobación fallida: .+`\w+` aún no está resuelto\.", cell["raw_error"]), cell
    out = io.StringIO()
    validator.stream = out
    validator.validate_and_print(str(blank))
    text = out.getvalue()
    lines = text.strip().splitlines()
    assert len(lines) <= 2 + len(failed), text
    assert lines[0].startswith("4 celda(s) de pruebas no pasan"), text
    for english in ("The following", "VALIDATION FAILED", "Traceback", "raise NotImplementedError", "Success"):
        assert english not in text, text


def _visible_code(source: str) -> str:
    """El código de una celda de pruebas sin sus bloques de pruebas ocultas (lo que ve el alumno)."""
    lines, hidden = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def _is_check(node) -> bool:
    return isinstance(node, ast.With) and any(
        isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, "id", "") == "check"
        for item in node.items)


def _unchecked_statements(code: str) -> list[str]:
    """Sentencias de nivel superior que pueden fallar fuera de ``with check(...)``: su error sería una
    pila de llamadas en lugar de una línea en español."""
    harmless = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    bad = []
    for node in ast.parse(code).body:
        if isinstance(node, harmless) or _is_check(node):
            continue
        if isinstance(node, ast.For) and all(_is_check(inner) for inner in node.body):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "print":
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.List, ast.Tuple, ast.Dict)):
            continue
        bad.append(ast.unparse(node).splitlines()[0])
    return bad


def test_every_visible_check_runs_inside_check():
    """Cada prueba visible de cada laboratorio corre dentro de ``with check(...)``, que convierte
    cualquier error (también el del ejercicio sin resolver) en una línea en español."""
    found = {}
    for lab in course.labs(REPO):
        for path in sorted((REPO / "source" / lab).glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                if course.is_test_cell(cell):
                    bad = _unchecked_statements(_visible_code(cell.source))
                    if bad:
                        found[f"{lab}/{course.grade_id(cell)}"] = bad
    assert not found, f"pruebas visibles fuera de check(): {found}"
    # La comprobación sabe fallar: una prueba visible suelta cuenta.
    assert _unchecked_statements("x = f(1)\nassert x == 2\n") == ["x = f(1)", "assert x == 2"]
