"""JupyterLab 4 con la extensión de nbgrader, en un Chromium real sin pantalla (Playwright).

Como lo haría una persona: abre un laboratorio de release/, lo ejecuta entero, escribe la solución
de referencia en la celda de respuesta, pulsa «Validate» de nbgrader y lee el resultado en la
página; después abre el Formgrader y ve los laboratorios del curso. Guarda capturas de pantalla en
la carpeta que imprime (``$CURSO_ARTEFACTOS/navegador`` si la variable existe; si no, una carpeta
temporal de pytest).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from curso_pytorch import course, publish, submissions
from tools import navegador

REPO = Path(__file__).resolve().parents[1]
# Laboratorio con una sola celda de respuesta: con ella resuelta, la validación pasa entera.
LAB = "07_tensorboard"
ANSWER = "train_with_tensorboard"
# Ajustes de JupyterLab para la prueba: todas las celdas en el DOM y ninguna consulta a internet.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
}
SUCCESS = "Success! Your notebook passes all the tests."


@pytest.fixture
def screenshots(tmp_path) -> Path:
    base = os.environ.get("CURSO_ARTEFACTOS")
    folder = (Path(base) / "navegador") if base else tmp_path / "capturas"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Capturas de pantalla del navegador en: {folder}")
    return folder


@pytest.fixture
def jupyter_lab(course_copy, tmp_path):
    """JupyterLab en 127.0.0.1 (puerto libre, con token) sobre una copia del curso publicada."""
    publish.publish(course_copy)  # release/ y el libro de calificaciones que lee el Formgrader
    home = tmp_path / "jupyter"
    for name, values in LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        # nbgrader llama a «alembic» por el PATH: que encuentre el del entorno en uso.
        "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    })
    env.pop("NBGRADER_EXECUTION", None)
    # Intercambio de nbgrader (release/collect) propio de la prueba, en la configuración del usuario.
    (home / "config").mkdir(parents=True)
    (home / "config" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(tmp_path / 'intercambio')!r}\n"
    )
    (tmp_path / "intercambio").mkdir()
    port, token = navegador.free_port(), secrets.token_hex(16)
    log = open(tmp_path / "jupyter.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={course_copy}"],
        cwd=course_copy, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("JupyterLab no arrancó:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
        time.sleep(0.5)
    try:
        yield {"url": base, "token": token, "root": course_copy, "log": tmp_path / "jupyter.log"}
    finally:
        try:  # apagado ordenado: cierra también los núcleos
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=10).close()
            process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def browser_tools():
    """Playwright y Chromium, comprobados antes de arrancar nada más."""
    try:
        return navegador.browser_tools()
    except navegador.BrowserMissing as error:
        pytest.fail(str(error))


def _menu(page, top: str, item: str) -> None:
    """Abre un menú de la barra de JupyterLab y elige una entrada, por su texto exacto."""
    page.locator(f'#jp-MainMenu .lm-MenuBar-itemLabel:text-is("{top}")').click()
    page.locator(f'.lm-Menu .lm-Menu-itemLabel:text-is("{item}")').click()


def _reference_solution() -> tuple[int, str]:
    """Índice de la celda de respuesta en release/ y su solución de referencia (de source/)."""
    notebook = f"{LAB}.ipynb"
    release = nbformat.read(REPO / "release" / LAB / notebook, as_version=4)
    index = next(i for i, c in enumerate(release.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER)
    solution = submissions.reference_notebook(REPO, LAB, notebook).cells[index].source
    return index, solution


def _points() -> dict[str, float]:
    """Puntos de cada laboratorio: la suma de sus celdas calificadas."""
    points = {}
    for lab in course.labs(REPO):
        cells = [c for p in sorted((REPO / "release" / lab).glob("*.ipynb"))
                 for c in nbformat.read(p, as_version=4).cells]
        points[lab] = sum(c.metadata["nbgrader"].get("points", 0) for c in cells
                          if c.metadata.get("nbgrader", {}).get("grade"))
    return points


def test_jupyterlab_nbgrader_validate_and_formgrader(browser_tools, jupyter_lab, screenshots):
    sync_playwright, expect = browser_tools
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    index, solution = _reference_solution()
    url, token = jupyter_lab["url"], jupyter_lab["token"]
    timings = {}
    start = time.perf_counter()

    def lap(name):
        timings[name] = round(time.perf_counter() - start, 1)

    with sync_playwright() as playwright:
        browser = navegador.launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)

        def shot(name):
            page.screenshot(path=str(screenshots / f"{name}.png"))

        try:
            # 1. Abrir el laboratorio; la extensión de nbgrader añade «Validate» a la barra.
            page.goto(f"{url}/lab/tree/release/{LAB}/{LAB}.ipynb?token={token}")
            panel = page.locator(".jp-NotebookPanel")
            validate = panel.locator(".validate-button")
            idle = panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
            validate.wait_for()
            idle.wait_for()
            cells = panel.locator(".jp-Notebook .jp-Cell")
            answer = cells.nth(index)
            expect(answer).to_contain_text("TU CÓDIGO AQUÍ")
            lap("abierto")
            shot("01_laboratorio_abierto")

            # 2. Ejecutar todo: la ejecución llega a las pruebas y se detiene en la primera prueba
            #    visible, que dice en una línea que la función aún no está resuelta (sin la pila
            #    de llamadas ni el código de la prueba).
            _menu(page, "Run", "Run All Cells")
            # Con la máquina cargada, JupyterLab puede perder el clic del menú (en CI ninguna celda
            # llegó a ejecutarse): si en 30 s no empezó ninguna celda, se pide otra vez.
            started = panel.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]"))
            try:
                started.first.wait_for(timeout=30_000)
            except PlaywrightTimeout:
                _menu(page, "Run", "Run All Cells")
            stub_error = panel.locator(".jp-OutputArea-output", has_text="Comprobación fallida")
            stub_error.first.wait_for(timeout=180_000)
            expect(stub_error.first).to_contain_text(f"`{ANSWER}` aún no está resuelto.")
            expect(stub_error.first).not_to_contain_text("Traceback")
            expect(stub_error.first).not_to_contain_text("NotImplementedError")
            idle.wait_for()
            setup_cell = panel.locator(".jp-CodeCell").first
            expect(setup_cell.locator(".jp-OutputArea-output")).to_contain_text("dispositivo: cpu")
            lap("ejecutado")
            stub_error.first.scroll_into_view_if_needed()
            shot("02_ejecutado_hasta_el_ejercicio")

            # 3. Validate sin resolver el ejercicio (guarda el cuaderno y nbgrader lo ejecuta con
            #    sus pruebas visibles): el diálogo muestra las pruebas que fallan.
            message = page.locator(".jp-Dialog #validation-message")
            validate.click()
            message.wait_for(timeout=240_000)
            lap("validado_sin_resolver")
            shot("03_validacion_sin_resolver")
            expect(message).to_have_class(re.compile(r"\bvalidation-failed\b"))
            expect(message).to_contain_text("The following cell failed:")
            # Por cada celda que falla, su nombre y su error en una línea (CourseValidator), no su código.
            expect(message).to_contain_text("«test_perdida_entrenamiento» (2 puntos)")
            expect(message).to_contain_text(f"Comprobación fallida: Loss/train: `{ANSWER}` aún no está resuelto.")
            expect(message).not_to_contain_text("raise NotImplementedError")
            expect(message).not_to_contain_text("Traceback")
            page.locator(".jp-Dialog .jp-mod-accept").click()
            message.wait_for(state="detached")

            # 4. Escribir la solución de referencia en la celda de respuesta.
            answer.scroll_into_view_if_needed()
            answer.locator(".cm-content").click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text(solution)
            expect(answer).not_to_contain_text("TU CÓDIGO AQUÍ")
            first_line = next(line for line in solution.splitlines() if line.strip())
            expect(answer.locator(".cm-content")).to_contain_text(first_line.strip())
            shot("04_respuesta_escrita")

            # 5. Validate otra vez: ahora pasa.
            validate.click()
            message.wait_for(timeout=240_000)
            lap("validado")
            shot("05_validacion_superada")
            expect(page.locator(".jp-Dialog .jp-Dialog-header")).to_have_text("Validation Results")
            expect(message).to_have_class(re.compile(r"\bvalidation-success\b"))
            expect(message).to_have_text(SUCCESS)
            page.locator(".jp-Dialog .jp-mod-accept").click()
            message.wait_for(state="detached")

            # 6. Formgrader: lista los laboratorios del curso (Manage Assignments) y el libro de
            #    calificaciones con sus puntos (Manual Grading).
            _menu(page, "Nbgrader", "Formgrader")
            frame = page.frame_locator("#formgrader iframe")
            names = frame.locator("#main-table td.name")
            expect(names).to_have_count(len(course.labs(REPO)), timeout=60_000)
            listed = sorted(t.strip() for t in names.all_inner_texts())
            lap("formgrader")
            shot("06_formgrader_laboratorios")
            frame.locator('a:text-is("Manual Grading")').click()
            expect(frame.locator("#main-table td.score")).to_have_count(len(course.labs(REPO)), timeout=60_000)
            # Puntos de cada laboratorio en el libro de calificaciones (los de sus celdas calificadas).
            for lab, points in _points().items():
                row = frame.locator("#main-table tr", has=frame.locator(f'a:text-is("{lab}")'))
                expect(row.locator("td.score")).to_have_text(f"0 / {points:g}")
            lap("calificacion")
            shot("07_formgrader_calificacion")
        except Exception:
            shot("error")
            (screenshots / "error.html").write_text(page.content())
            raise
        finally:
            browser.close()
            shutil.copy(jupyter_lab["log"], screenshots / "jupyter.log")  # registro del servidor

    print(f"tiempos (s, acumulados): {timings}")
    assert listed == course.labs(REPO)
    # Lo que validó nbgrader es lo que se escribió en el navegador: el cuaderno guardado lleva la
    # solución de referencia en su celda de respuesta.
    saved = nbformat.read(jupyter_lab["root"] / "release" / LAB / f"{LAB}.ipynb", as_version=4)
    assert saved.cells[index].source.strip() == solution.strip()
