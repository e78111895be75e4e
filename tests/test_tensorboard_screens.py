"""Las capturas de TensorBoard de la lección 07: están en el repositorio, la lección las muestra y
``tools/capturas_tensorboard.py`` las vuelve a hacer desde una ejecución real (entrenamiento en
MNIST, TensorBoard en un puerto local y Chromium sin pantalla)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from tools import capturas_tensorboard as capturas
from tools import colab_badges, navegador

REPO = Path(__file__).resolve().parents[1]
LECTURE = REPO / "notebooks" / "07_tensorboard.ipynb"
FOLDER = "imagenes/tensorboard"  # relativa a notebooks/, como la escribe la lección
MAX_BYTES = 150 * 1024
TENSORBOARD_ORANGE = (245, 124, 0)  # la barra superior de TensorBoard (#f57c00)


def _markdown() -> str:
    nb = nbformat.read(LECTURE, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _check_screen(path: Path) -> None:
    """Un PNG válido, pequeño, del tamaño de la ventana y con la barra de TensorBoard arriba."""
    assert path.is_file(), f"falta la captura {path}"
    assert path.stat().st_size <= MAX_BYTES, f"{path.name}: {path.stat().st_size // 1024} KB (máximo 150)"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} no es un PNG"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (capturas.VIEWPORT["width"], capturas.VIEWPORT["height"]), image.size
        rgb = image.convert("RGB")
        header = rgb.getpixel((10, 10))
        # Una página de error o en blanco no tiene la barra naranja de TensorBoard.
        assert all(abs(a - b) <= 24 for a, b in zip(header, TENSORBOARD_ORANGE)), \
            f"{path.name}: la esquina superior es {header}, no la barra de TensorBoard"
        colors = rgb.getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 16, f"{path.name}: casi sin contenido ({len(colors)} colores)"


def test_lecture_shows_every_screen():
    text = _markdown()
    shown = re.findall(r"!\[[^\]]+\]\(([^)\s]+\.png)\)", text)
    expected = [f"{FOLDER}/{screen}.png" for screen in capturas.SCREENS]
    assert sorted(shown) == sorted(expected), f"la lección muestra {shown}; se esperaban {expected}"
    folder = LECTURE.parent / FOLDER
    assert capturas.DESTINATION == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.png" for s in capturas.SCREENS), \
        "hay capturas que la lección no muestra"
    for relative in shown:
        _check_screen(LECTURE.parent / relative)


def test_lecture_points_colab_to_the_screens():
    """Colab no resuelve las rutas relativas de las imágenes: la lección enlaza la carpeta en GitHub."""
    url = colab_badges.repository_url().rstrip("/").removesuffix(".git")
    assert f"]({url}/tree/{colab_badges.BRANCH}/notebooks/{FOLDER})" in _markdown()


def test_lecture_says_when_to_use_each_tab():
    text = _markdown()
    for tab in ("SCALARS", "IMAGES", "GRAPHS", "PR CURVES", "PROJECTOR"):
        paragraph = re.search(rf"\*\*{tab}\.\*\*([^\n]*(?:\n(?!\n)[^\n]*)*)", text)
        assert paragraph, f"falta el párrafo de la pestaña {tab}"
        assert re.search(r"\b(Úsala|Es la pestaña)\b", paragraph.group(1)), f"{tab}: no dice cuándo usarla"


def test_script_makes_the_screens_from_a_real_run(tmp_path):
    try:
        navegador.browser_tools()
    except navegador.BrowserMissing as error:
        pytest.fail(str(error))
    destination = tmp_path / "capturas"
    paths = capturas.make(destination)
    assert [p.name for p in paths] == [f"{s}.png" for s in capturas.SCREENS]
    assert sorted(p.name for p in destination.iterdir()) == sorted(p.name for p in paths)  # sin error_*.png
    for path in paths:
        _check_screen(path)


def test_runs_log_what_the_screens_show(tmp_path):
    """Cada ejecución registra escalares jerárquicos, imágenes, histogramas, grafo y curvas PR; la
    primera, además, la proyección de la capa oculta; y la red aprende (validación muy por encima
    del 10 % del azar)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    names = capturas.log_runs(tmp_path / "runs", epochs=2)
    assert names == [capturas.run_name(lr) for lr in capturas.LEARNING_RATES]
    for index, name in enumerate(names):
        run = tmp_path / "runs" / name
        events = EventAccumulator(str(run), size_guidance={"tensors": 0}).Reload()
        tags = events.Tags()
        assert {"pérdida/entrenamiento_lote", "pérdida/validación", "exactitud/validación"} <= set(tags["scalars"])
        assert tags["images"] == ["datos/lote_de_entrenamiento"]
        assert tags["histograms"] == ["pesos/capa1"]
        assert tags["graph"]
        assert {"pr/es_un_3", "pr/es_un_8"} <= set(tags["tensors"])
        accuracy = events.Scalars("exactitud/validación")
        assert [e.step for e in accuracy] == [0, 1]
        assert accuracy[-1].value > 0.5, accuracy
        projector = (run / "projector_config.pbtxt").is_file()
        assert projector == (index == 0)
        if projector:
            (vectors,) = run.glob("*/capa_oculta/tensors.tsv")
            rows = [line.split("\t") for line in vectors.read_text().splitlines()]
            assert len(rows) == capturas.EMBEDDED and {len(r) for r in rows} == {64}
