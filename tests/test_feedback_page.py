"""La página de retroalimentación: en español, con un resumen por partes (puntos, pruebas visibles
y ocultas por separado, motivo de cada punto perdido), sin código oculto y sin líneas que se
salgan de su caja. Califica el laboratorio 01 con la referencia, la copia en blanco y un error
que pasa las pruebas visibles y falla las ocultas."""

from __future__ import annotations

import html
import re

import pytest

from curso_pytorch import feedback
from tests import leaks
from tests.grading import grade_variants
from tests.test_browser import browser_tools  # noqa: F401 (fixture de Playwright y Chromium)
from tools import navegador
LAB = "01_tensores"
# Softmax sin restar el máximo: pasa las pruebas visibles (logits pequeños) y falla las ocultas,
# que prueban logits extremos.
BUG = "softmax_inestable"
CHANGES = {"softmax": "def softmax(logits):\n    exp = torch.exp(logits)\n    return exp / exp.sum(dim=1, keepdim=True)\n"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("retroalimentacion") / "curso"
    scores = grade_variants(root, LAB, {BUG: CHANGES})
    assert feedback.feedback(root, LAB) == 3
    return root, scores, {student: (root / "feedback" / student / LAB / f"{LAB}.html").read_text(encoding="utf-8")
                          for student in ("referencia", "en_blanco", BUG)}


def _row(page: str, grade_id: str) -> list[str]:
    """Las celdas de texto de la fila del resumen de ``grade_id``."""
    table = page.split('<table class="summary">')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if f"<code>{grade_id}</code>" in r)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_page_is_in_spanish_with_a_summary(pages):
    _, _, by_student = pages
    for student, page in by_student.items():
        assert '<html lang="es">' in page
        for heading in ("Resumen por partes", "Parte (celda de pruebas)", "Pruebas visibles", "Pruebas ocultas",
                        "Celda de pruebas:", "Tu respuesta", "Puntos:"):
            assert heading in page, (student, heading)
        for english in ("Test cell", "Grade cell", "Score", "Student's answer", "(Top)", "CheckFailed"):
            assert english not in page, (student, english)
        assert "overflow-wrap: anywhere" in page and "white-space: pre-wrap" in page


def test_summary_tells_visible_and_hidden_apart(pages):
    _, scores, by_student = pages
    reference, blank, bug = by_student["referencia"], by_student["en_blanco"], by_student[BUG]
    assert "Todas las partes tienen sus puntos completos." in reference
    assert _row(reference, "test_cross_entropy")[1:] == ["3 / 3", "superadas", "superadas"]
    # El error pasa las visibles y pierde los puntos en las ocultas, con su motivo.
    assert scores[BUG]["test_softmax"][0] == 0
    assert _row(bug, "test_softmax")[1:] == ["0 / 2", "superadas", "no superadas"]
    lost = html.unescape(bug.split("Por qué perdiste puntos")[1].split("</ul>")[0])
    assert re.search(r"test_softmax</code></a> \(−2\): en las pruebas ocultas: Comprobación fallida: \S", lost)
    assert _row(bug, "test_accuracy")[1:] == ["1 / 1", "superadas", "superadas"]
    # La copia en blanco falla en las visibles: las ocultas no llegan a ejecutarse.
    assert _row(blank, "test_softmax")[1:] == ["0 / 2", "no superadas", "no se ejecutaron (falló antes una visible)"]
    assert _row(blank, "test_entrenamiento_sgd_step")[2] == "no tiene"
    lost = html.unescape(blank.split("Por qué perdiste puntos")[1].split("</ul>")[0])
    assert "test_softmax</code></a> (−2): en las pruebas visibles: Comprobación fallida: softmax: " in lost
    assert "aún no está resuelto" in lost


def test_no_hidden_code_on_the_page(pages):
    root, _, by_student = pages
    hidden = leaks.hidden_test_snippets(root, LAB)
    assert hidden
    for student, page in by_student.items():
        text = html.unescape(page)
        leaked = [line for line in hidden if line in text]
        assert not leaked, (student, leaked[:3])


def test_page_in_a_real_browser(pages, browser_tools, tmp_path):
    """La página de la entrega con el error, abierta en Chromium como la abriría el alumno: se ve el
    resumen en español con la parte perdida y su motivo, y nada se sale de su caja (ni de la página)
    aunque el motivo sea largo."""
    root, _, _ = pages
    sync_playwright, expect = browser_tools
    page_path = root / "feedback" / BUG / LAB / f"{LAB}.html"
    with sync_playwright() as playwright:
        browser = navegador.launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(page_path.as_uri())
            summary = page.locator("table.summary")
            expect(summary).to_be_visible()
            expect(page.locator("body")).to_contain_text("Resumen por partes")
            expect(page.locator("body")).to_contain_text("Por qué perdiste puntos")
            expect(summary.locator("tr", has=page.locator("code", has_text="test_softmax"))).to_contain_text("no superadas")
            overflowing = page.evaluate("""() => {
                const wide = [];
                for (const el of document.querySelectorAll('pre, td, li, .output_area, .summary')) {
                    if (el.scrollWidth > el.clientWidth + 1) wide.push(el.tagName + ': ' + el.textContent.slice(0, 60));
                }
                if (document.documentElement.scrollWidth > window.innerWidth + 1) wide.push('la página entera');
                return wide;
            }""")
            assert not overflowing, overflowing
            page.screenshot(path=str(tmp_path / "retroalimentacion.png"), full_page=True)
        finally:
            browser.close()
