"""Los esquemas de curso_pytorch.figures se dibujan sin errores y contienen sus partes rotuladas."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from curso_pytorch import figures

# Función -> textos que deben aparecer en la figura (subcadenas de algún texto dibujado).
EXPECTED = {
    "computational_graph": ["MulBackward0", "AddBackward0", "PowBackward0", "∂L/∂w = 28", "∂L/∂x = 42",
                            "∂L/∂b = 14", "L = 49", "backward()"],
    "convolution": ["entrada 5×5", "filtro 3×3", "salida 3×3", "mapa de características", "= 3"],
    "max_pooling": ["entrada 4×4", "salida 2×2", "MaxPool2d(2)", "máximo"],
    "residual_block": ["x (entrada)", "Conv2d 3×3", "BatchNorm2d", "atajo", "F(x)", "ReLU(F(x) + x)"],
    "lstm_cell": ["olvido", "entrada", "candidato", "salida", "$c_{t-1}$", "$h_t$", "tanh"],
}


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_every_figure_is_tested():
    assert set(figures.ALL) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_figure_draws_with_its_labels(name):
    fig = figures.ALL[name]()
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig).draw()                        # dibuja de verdad (errores de trazado)
    texts = _texts(fig)
    missing = [label for label in EXPECTED[name] if not any(label in t for t in texts)]
    assert not missing, f"{name}: faltan los rótulos {missing}; hay {texts}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_labels_stay_inside_the_figure(name):
    fig = figures.ALL[name]()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = canvas.get_width_height()
    for text in fig.findobj(Text):
        if not text.get_text() or not text.get_visible():
            continue
        box = text.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, \
            f"{name}: el rótulo {text.get_text()!r} se sale de la figura"
