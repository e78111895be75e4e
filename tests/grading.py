"""Arnés común de las pruebas de laboratorios: entregas con errores típicos y sus notas.

Cada laboratorio declara sus variantes como ``{alumno: {grade_id: cambio}}``, donde ``cambio``
es el código completo de la celda de respuesta (``str``) o una lista de sustituciones
``(antes, después)`` sobre la solución de referencia; cada sustitución debe aplicarse (si el
texto no está, la prueba falla en lugar de pasar sin haber inyectado el error).

Para probar entregas hostiles, tres claves más: ``BLANK`` (parte de la copia en blanco en lugar
de la referencia), ``ADDED_CELLS`` (celdas de código que el alumno añade justo antes de la primera
celda de pruebas) y ``EXTRA_FILES`` (``{nombre: texto}`` entregados junto al cuaderno).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from curso_pytorch import course, gradebook, grading, publish, submissions

REPO = Path(__file__).resolve().parents[1]
# Sin red: un proxy que no existe (la capa de datos no puede descargar nada).
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}


def _apply(source: str, change) -> str:
    if isinstance(change, str):
        return change
    for before, after in change:
        assert before in source, f"la sustitución no encuentra {before!r} en la solución"
        source = source.replace(before, after)
    return source


BLANK, ADDED_CELLS, EXTRA_FILES = "+en_blanco", "+celdas", "+archivos"

# Código oculto en base64 en una celda añadida: las pruebas que vienen detrás no puntúan y su motivo
# pide revisar la entrega a mano (``LabGradingTests.test_hidden_code_asks_for_review``).
BASE64_CELL = "import base64\nexec(base64.b64decode('cGFzcw=='))\n"


def variant_notebook(course_dir: Path, lab: str, changes: dict) -> dict[str, nbformat.NotebookNode]:
    """La solución de referencia de ``lab`` (o su copia en blanco, con ``BLANK``) con las celdas de
    respuesta de ``changes`` modificadas y las celdas de ``ADDED_CELLS`` añadidas."""
    notebooks = {}
    pending = {k: v for k, v in changes.items() if k not in (BLANK, ADDED_CELLS, EXTRA_FILES)}
    for path in sorted((course_dir / "release" / lab).glob("*.ipynb")):
        if changes.get(BLANK):
            nb = nbformat.read(path, as_version=4)
        else:
            nb = submissions.reference_notebook(course_dir, lab, path.name)
        for cell in nb.cells:
            if course.grade_id(cell) in pending:
                cell.source = _apply(cell.source, pending.pop(course.grade_id(cell)))
        first_test = next(i for i, cell in enumerate(nb.cells) if course.is_test_cell(cell))
        nb.cells[first_test:first_test] = [nbformat.v4.new_code_cell(source) for source in changes.get(ADDED_CELLS, [])]
        notebooks[path.name] = nb
    assert not pending, f"no existen estas celdas de respuesta: {sorted(pending)}"
    return notebooks


def grade_variants(root: Path, lab: str, variants: dict[str, dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Publica ``lab`` en un curso temporal, entrega la referencia, la copia en blanco y cada
    variante, califica todo en un solo lote y devuelve los puntos por celda de cada alumno."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / lab, root / "source" / lab)
    publish.publish(root, lab)
    release = {p.name: nbformat.read(p, as_version=4) for p in sorted((root / "release" / lab).glob("*.ipynb"))}
    submissions.submit(root, lab, "referencia", variant_notebook(root, lab, {}))
    submissions.submit(root, lab, "en_blanco", release)
    for student, changes in variants.items():
        folder = submissions.submit(root, lab, student, variant_notebook(root, lab, changes))
        for name, text in changes.get(EXTRA_FILES, {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    outcomes = grading.grade(root, lab, report=lambda line: None)
    failed = [o for o in outcomes if not o.ok]
    assert not failed, f"el calificador falló: {failed}"
    return {student: gradebook.cell_scores(root, lab, student) for student, _ in submissions.submissions(root, lab)}


def autograded_errors(root: Path, lab: str, student: str) -> list[str]:
    """Errores que dejó ``nbgrader autograde`` en los cuadernos calificados de ``student``, también
    en las celdas que no puntúan (con ``CURSO_STRICT_WARNINGS``, el uso de una API obsoleta)."""
    errors = []
    for path in sorted((root / "autograded" / student / lab).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    errors.append(f"{path.name} · celda {cell.get('id')}: {out.ename}: {out.evalue[:300]}")
    return errors


def graded_notebook(root: Path, lab: str, student: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "autograded" / student / lab / f"{lab}.ipynb", as_version=4)


def cell_errors(root: Path, lab: str, student: str) -> dict[str, list[str]]:
    """Los motivos de error de cada celda de pruebas del cuaderno calificado de ``student``."""
    return {course.grade_id(cell): [o.evalue for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            for cell in graded_notebook(root, lab, student).cells if course.is_test_cell(cell)}


def assert_full_marks(scores: dict[str, tuple[float, float]]) -> None:
    lost = {cell: s for cell, s in scores.items() if s[0] != s[1]}
    assert not lost, f"la referencia pierde puntos en: {lost}"


def assert_zero(scores: dict[str, tuple[float, float]]) -> None:
    earned = {cell: s for cell, s in scores.items() if s[0] != 0}
    assert not earned, f"la copia en blanco gana puntos en: {earned}"


def assert_loses_exactly(scores: dict[str, tuple[float, float]], cells: set[str], errors=None) -> None:
    """Las celdas de ``cells`` puntúan 0 y todas las demás, el máximo. ``errors``: si falla, de dónde
    leer los errores de cada celda (``cell_errors``) para el mensaje."""
    unknown = cells - set(scores)
    assert not unknown, f"celdas inexistentes: {unknown}"
    wrong = {
        cell: s for cell, s in scores.items()
        if (cell in cells and s[0] != 0) or (cell not in cells and s[0] != s[1])
    }
    assert not wrong, (f"se esperaba perder exactamente {sorted(cells)}; puntos obtenidos: {wrong}"
                       + (f"; errores: { {c: e for c, e in errors().items() if c in wrong} }" if errors else ""))


class LabGradingTests:
    """Pruebas de calificación de un laboratorio. Cada subclase define:

    - ``LAB``: la carpeta del laboratorio en ``source/``;
    - ``TOTAL``: los puntos de la nota máxima;
    - ``BUGS``: ``{alumno: ({grade_id: cambio}, {celdas de pruebas que deben puntuar 0})}``.

    Califica en un solo lote la referencia, la copia en blanco y una entrega por error típico.
    """

    LAB: str = ""
    TOTAL: float = 0
    BUGS: dict = {}

    @pytest.fixture(scope="class")
    @classmethod
    def grading_root(cls, tmp_path_factory):
        return tmp_path_factory.mktemp(cls.LAB) / "curso"

    @pytest.fixture(scope="class")
    @classmethod
    def scores(cls, grading_root):
        variants = {name: changes for name, (changes, _) in cls.BUGS.items()}
        return grade_variants(grading_root, cls.LAB, variants)

    def test_reference_gets_full_marks(self, scores):
        assert_full_marks(scores["referencia"])
        assert sum(s[1] for s in scores["referencia"].values()) == self.TOTAL

    def test_reference_runs_without_errors(self, scores, grading_root):
        """Ninguna celda de la referencia falla, tampoco las de la lección (en las pruebas, el uso
        de una API obsoleta de torch, torchvision o torchmetrics es un error)."""
        errors = autograded_errors(grading_root, self.LAB, "referencia")
        assert not errors, "la solución de referencia produce errores:\n" + "\n".join(errors)

    def test_blank_release_gets_zero(self, scores):
        assert_zero(scores["en_blanco"])

    def test_typical_bug_loses_only_its_part(self, scores, bug, grading_root):
        assert_loses_exactly(scores[bug], self.BUGS[bug][1], lambda: cell_errors(grading_root, self.LAB, bug))

    # Nombres del código del juez del laboratorio que no deben aparecer en lo que ve el alumno.
    JUDGE_NAMES: tuple[str, ...] = ()

    def test_outputs_show_no_judge_code(self, scores, grading_root):
        """Las salidas de los cuadernos calificados (lo que ve el alumno en su retroalimentación) no
        muestran el código del juez, tampoco las de las entregas hostiles."""
        words = ("### JUEZ", "forbid(", "reference(", *self.JUDGE_NAMES)
        for student in scores:
            outputs = "".join(str(o) for c in graded_notebook(grading_root, self.LAB, student).cells
                              for o in c.get("outputs", []))
            assert not [w for w in words if w in outputs], student

    def test_hidden_code_asks_for_review(self, scores, grading_root):
        """El código que se genera u oculta (``ataque_base64``) deja sin puntos todas las pruebas con un
        motivo que pide revisar la entrega a mano."""
        errors = cell_errors(grading_root, self.LAB, "ataque_base64")
        assert set(errors) == set(scores["referencia"])
        for cell, reasons in errors.items():
            assert any("el módulo «base64»" in r and "revise la entrega a mano" in r for r in reasons), (cell, reasons)
