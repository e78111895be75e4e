"""Esquemas de las lecciones dibujados con matplotlib (rectángulos, círculos y flechas).

Cada función devuelve una ``matplotlib.figure.Figure`` sin mostrarla; el cuaderno la muestra.
Los números que aparecen en los esquemas se calculan aquí mismo (con PyTorch o NumPy), no se
escriben a mano.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

FORWARD = "#333333"
BACKWARD = "#c0392b"
HIGHLIGHT = "#f39c12"


class Schema(Figure):
    """Una ``Figure`` que Jupyter muestra como imagen PNG aunque no la gestione pyplot."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _canvas(width: float, height: float, xlim: tuple[float, float], ylim: tuple[float, float]):
    fig = Schema(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax, center, text, width=1.6, height=0.7, color="#dfe9f5", fontsize=10, **text_options):
    x, y = center
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05", facecolor=color, edgecolor=FORWARD))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **text_options)


def _arrow(ax, start, end, color=FORWARD, style="-|>", connection="arc3", **options):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=color,
                                 connectionstyle=connection, shrinkA=0, shrinkB=0, lw=1.4, **options))


def _grid(ax, values, origin, cell=1.0, highlight=None, color=HIGHLIGHT, fmt="{:.0f}", fontsize=10):
    """Dibuja una matriz con su valor en cada casilla; ``origin`` es la esquina superior izquierda.

    ``highlight`` es un conjunto de casillas ``(fila, columna)`` pintadas de ``color``, o un
    diccionario casilla -> color."""
    x0, y0 = origin
    rows, cols = values.shape
    if highlight is None:
        highlight = {}
    elif not isinstance(highlight, dict):
        highlight = {cell_: color for cell_ in highlight}
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 1) * cell), cell, cell,
                                   facecolor=highlight.get((r, c), "white"), edgecolor=FORWARD, lw=1))
            ax.text(x0 + (c + 0.5) * cell, y0 - (r + 0.5) * cell, fmt.format(values[r, c]),
                    ha="center", va="center", fontsize=fontsize)


def computational_graph(w: float = 3.0, x: float = 2.0, b: float = 1.0) -> Figure:
    """Grafo de cómputo de ``L = (w·x + b)²`` con los valores hacia delante y los gradientes."""
    import torch

    wt, xt, bt = (torch.tensor(v, requires_grad=True) for v in (w, x, b))
    u = wt * xt
    u.retain_grad()
    v = u + bt
    v.retain_grad()
    loss = v ** 2
    loss.backward()

    fig, ax = _canvas(9.5, 4.6, (0, 13), (-0.6, 5.8))
    leaves = {"w": (1.0, 4.6, wt), "x": (1.0, 2.9, xt), "b": (1.0, 1.1, bt)}
    for name, (cx, cy, t) in leaves.items():
        ax.add_patch(Circle((cx, cy), 0.45, facecolor="#e8f6e8", edgecolor=FORWARD))
        ax.text(cx, cy, name, ha="center", va="center", fontsize=12, style="italic")
        ax.text(cx, cy - 0.68, f"{name} = {t.item():g}", ha="center", va="center", fontsize=9)
    ops = {"mul": (4.3, 3.75, "×\nMulBackward0"), "add": (7.3, 2.4, "+\nAddBackward0"),
           "pow": (10.3, 2.4, "(·)²\nPowBackward0")}
    for cx, cy, text in ops.values():
        _box(ax, (cx, cy), text, width=2.0, height=0.95, fontsize=9)
    ax.add_patch(Circle((12.3, 2.4), 0.45, facecolor="#fdebd0", edgecolor=FORWARD))
    ax.text(12.3, 2.4, "L", ha="center", va="center", fontsize=12, style="italic")
    ax.text(12.3, 1.7, f"L = {loss.item():g}", ha="center", va="center", fontsize=9)

    # Hacia delante (negro): cada flecha lleva el valor que transporta.
    _arrow(ax, (1.45, 4.5), (3.3, 3.95))
    _arrow(ax, (1.45, 3.0), (3.3, 3.55))
    _arrow(ax, (5.3, 3.55), (6.3, 2.65))
    ax.text(5.6, 3.45, f"u = {u.item():g}", fontsize=9, ha="left")
    _arrow(ax, (1.45, 1.15), (6.3, 2.2))
    _arrow(ax, (8.3, 2.4), (9.3, 2.4))
    ax.text(8.8, 2.6, f"v = {v.item():g}", fontsize=9, ha="center")
    _arrow(ax, (11.3, 2.4), (11.85, 2.4))

    # Hacia atrás (rojo): los gradientes que acumula backward().
    red = dict(color=BACKWARD, fontsize=9, ha="center")
    ax.text(1.0, 5.4, f"∂L/∂w = {wt.grad.item():g}", **red)
    ax.text(2.3, 2.3, f"∂L/∂x = {xt.grad.item():g}", **red)
    ax.text(1.0, -0.3, f"∂L/∂b = {bt.grad.item():g}", **red)
    ax.text(4.3, 4.55, f"∂L/∂u = {u.grad.item():g}", **red)
    ax.text(8.8, 1.7, f"∂L/∂v = {v.grad.item():g}", **red)
    _arrow(ax, (11.6, 1.55), (7.5, 1.55), color=BACKWARD, style="-|>", linestyle="--")
    ax.text(9.6, 1.0, "backward(): regla de la cadena", **red)
    ax.text(6.5, 5.4, "hacia delante: valores (negro)   ·   hacia atrás: gradientes (rojo)",
            ha="center", fontsize=9)
    return fig


# Imagen y filtro de la lección 08: un borde vertical y un detector de bordes verticales.
EDGE_IMAGE = np.array([[0, 0, 1, 1, 1]] * 5, dtype=float)
EDGE_KERNEL = np.array([[-1, 0, 1]] * 3, dtype=float)


def convolution(image: np.ndarray = EDGE_IMAGE, kernel: np.ndarray = EDGE_KERNEL,
                position: tuple[int, int] = (1, 1)) -> Figure:
    """Un filtro 3×3 sobre una entrada 5×5: la ventana resaltada produce la casilla resaltada."""
    k = kernel.shape[0]
    rows, cols = image.shape[0] - k + 1, image.shape[1] - k + 1
    out = np.array([[(image[i:i + k, j:j + k] * kernel).sum() for j in range(cols)] for i in range(rows)])
    pi, pj = position
    window = {(pi + r, pj + c) for r in range(k) for c in range(k)}

    fig, ax = _canvas(9.5, 3.9, (-0.3, 15.3), (-1.3, 6.2))
    _grid(ax, image, (0, 5), highlight=window)
    _grid(ax, kernel, (6.6, 4), highlight=set(np.ndindex(k, k)))
    _grid(ax, out, (11.6, 4), highlight={position})
    ax.text(2.5, 5.5, f"entrada {image.shape[0]}×{image.shape[1]}", ha="center", fontsize=10)
    ax.text(8.1, 0.5, f"filtro {k}×{k}", ha="center", fontsize=10)
    ax.text(13.1, 4.5, f"salida {rows}×{cols}", ha="center", fontsize=10)
    ax.text(13.1, 0.5, "(mapa de características)", ha="center", fontsize=9)
    ax.text(5.8, 2.5, "⊙", ha="center", va="center", fontsize=16)
    ax.text(10.8, 2.5, "=", ha="center", va="center", fontsize=16)
    _arrow(ax, (pj + k, 5 - pi - 0.2), (11.6 + pj + 0.5, 4 - pi), color=HIGHLIGHT,
           connection="arc3,rad=-0.3")
    ax.text(7.5, -0.6, f"suma de productos de la ventana resaltada = {out[pi, pj]:.0f}; "
            "el filtro se desliza de uno en uno (paso 1)", ha="center", fontsize=9)
    return fig


POOL_INPUT = np.array([[1, 3, 2, 0],
                       [4, 6, 1, 1],
                       [0, 2, 5, 7],
                       [3, 1, 8, 2]], dtype=float)


def max_pooling(values: np.ndarray = POOL_INPUT) -> Figure:
    """``MaxPool2d(2)``: cada ventana 2×2 (un color) se resume con su máximo."""
    colors = ["#aed6f1", "#f9e79f", "#abebc6", "#f5b7b1"]
    n = values.shape[0] // 2
    pooled = values.reshape(n, 2, n, 2).max(axis=(1, 3))
    fig, ax = _canvas(7.5, 3.4, (-0.3, 9.8), (-1.0, 5.0))
    windows = {(r, c): colors[index % len(colors)] for index, (r, c) in enumerate(np.ndindex(n, n))}
    _grid(ax, values, (0, 4), highlight={(2 * r + dr, 2 * c + dc): color for (r, c), color in windows.items()
                                         for dr in range(2) for dc in range(2)})
    _grid(ax, pooled, (6.8, 3), highlight=windows)
    # Los máximos de cada ventana, en negrita sobre la entrada.
    for r, c in np.ndindex(n, n):
        block = values[2 * r:2 * r + 2, 2 * c:2 * c + 2]
        dr, dc = np.unravel_index(block.argmax(), block.shape)
        ax.add_patch(Rectangle((2 * c + dc + 0.08, 4 - (2 * r + dr + 1) + 0.08), 0.84, 0.84,
                               fill=False, edgecolor=FORWARD, lw=2.2))
    ax.text(2, 4.4, "entrada 4×4", ha="center", fontsize=10)
    ax.text(7.8, 3.4, "salida 2×2", ha="center", fontsize=10)
    _arrow(ax, (4.3, 2), (6.5, 2))
    ax.text(5.4, 2.3, "máximo de\ncada 2×2", ha="center", va="bottom", fontsize=9)
    ax.text(4.75, -0.6, "MaxPool2d(2): sin parámetros; reduce cada lado a la mitad", ha="center", fontsize=9)
    return fig


def residual_block() -> Figure:
    """Bloque residual: dos convoluciones 3×3 con BatchNorm y un atajo que suma la entrada."""
    fig, ax = _canvas(5.2, 6.4, (0, 7), (0, 9.2))
    x0 = 2.6
    steps = [(8.3, "x (entrada)", "#e8f6e8"), (7.0, "Conv2d 3×3", "#dfe9f5"), (5.9, "BatchNorm2d", "#dfe9f5"),
             (4.8, "ReLU", "#dfe9f5"), (3.7, "Conv2d 3×3", "#dfe9f5"), (2.6, "BatchNorm2d", "#dfe9f5")]
    for (y, text, color), (y_next, _, _) in zip(steps, steps[1:] + [(1.5, "", "")]):
        _box(ax, (x0, y), text, width=2.6, height=0.65, color=color)
        _arrow(ax, (x0, y - 0.36), (x0, y_next + (0.33 if y_next > 1.5 else 0.3)))
    ax.add_patch(Circle((x0, 1.5), 0.3, facecolor="#fdebd0", edgecolor=FORWARD))
    ax.text(x0, 1.5, "+", ha="center", va="center", fontsize=14)
    _arrow(ax, (x0, 1.2), (x0, 0.75))
    _box(ax, (x0, 0.45), "ReLU → salida", width=2.6, height=0.55, color="#fdebd0")
    # El atajo: de la entrada al sumador, por la derecha.
    ax.plot([x0 + 1.35, 5.6, 5.6], [8.3, 8.3, 1.5], color=BACKWARD, lw=1.4)
    _arrow(ax, (5.6, 1.5), (x0 + 0.3, 1.5), color=BACKWARD)
    ax.text(5.75, 5.0, "atajo: x", color=BACKWARD, fontsize=10, rotation=90, va="center")
    ax.text(0.2, 4.8, "F(x)", fontsize=11, style="italic", va="center")
    ax.text(3.5, 9.0, "y = ReLU(F(x) + x)", ha="center", fontsize=11)
    return fig


def lstm_cell() -> Figure:
    """Celda LSTM: puertas de olvido, entrada y salida, y el estado de la celda que las atraviesa."""
    fig, ax = _canvas(9.0, 4.8, (0, 12.6), (0, 6.8))
    ax.add_patch(FancyBboxPatch((1.6, 0.9), 9.4, 4.9, boxstyle="round,pad=0.1",
                                facecolor="#f7f9fc", edgecolor=FORWARD))
    # Estado de la celda (arriba) y estado oculto (abajo).
    ax.text(0.75, 5.0, "$c_{t-1}$", ha="center", va="center", fontsize=12)
    ax.text(11.85, 5.0, "$c_t$", ha="center", va="center", fontsize=12)
    ax.text(0.75, 1.6, "$h_{t-1}$", ha="center", va="center", fontsize=12)
    ax.text(11.85, 1.6, "$h_t$", ha="center", va="center", fontsize=12)
    ax.text(2.5, 0.35, "$x_t$", ha="center", va="center", fontsize=12)

    def op(center, text):
        ax.add_patch(Circle(center, 0.33, facecolor="#fdebd0", edgecolor=FORWARD))
        ax.text(*center, text, ha="center", va="center", fontsize=12)

    forget, add, out_mul, in_mul = (3.4, 5.0), (6.6, 5.0), (9.5, 2.8), (6.6, 3.7)
    op(forget, "×"); op(add, "+"); op(out_mul, "×"); op(in_mul, "×")
    _arrow(ax, (1.1, 5.0), (forget[0] - 0.33, 5.0))
    _arrow(ax, (forget[0] + 0.33, 5.0), (add[0] - 0.33, 5.0))
    _arrow(ax, (add[0] + 0.33, 5.0), (11.5, 5.0))
    _arrow(ax, (in_mul[0], in_mul[1] + 0.33), (add[0], add[1] - 0.33))
    # Entrada combinada [h_{t-1}, x_t] que alimenta las cuatro capas.
    ax.plot([1.1, 8.6], [1.6, 1.6], color=FORWARD, lw=1.4)
    _arrow(ax, (2.5, 0.6), (2.5, 1.6))
    gates = [(3.4, "σ", "olvido\n$f_t$", forget), (5.2, "σ", "entrada\n$i_t$", in_mul),
             (6.6, "tanh", "candidato\n$g_t$", in_mul), (8.4, "σ", "salida\n$o_t$", out_mul)]
    for gx, func, name, target in gates:
        _box(ax, (gx, 2.55), func, width=0.95, height=0.6, color="#f9e79f", fontsize=11)
        ax.text(gx, 1.1, name, ha="center", va="center", fontsize=8)
        _arrow(ax, (gx, 1.6), (gx, 2.25))
        if target is out_mul:
            _arrow(ax, (gx + 0.48, 2.7), (target[0] - 0.33, target[1]))
        elif gx == 5.2:
            _arrow(ax, (gx, 2.85), (target[0] - 0.3, target[1] - 0.15), connection="arc3,rad=-0.3")
        else:
            _arrow(ax, (gx, 2.85), (target[0], target[1] - 0.33))
    # tanh(c_t) × o_t = h_t.
    _box(ax, (9.5, 4.1), "tanh", width=0.95, height=0.55, color="#dfe9f5", fontsize=10)
    ax.plot([8.9, 9.5], [5.0, 5.0], color=FORWARD, lw=1.4)
    _arrow(ax, (9.5, 5.0), (9.5, 4.38))
    _arrow(ax, (9.5, 3.82), (9.5, out_mul[1] + 0.33))
    ax.plot([9.83, 10.4], [2.8, 2.8], color=FORWARD, lw=1.4)
    ax.plot([10.4, 10.4], [2.8, 1.6], color=FORWARD, lw=1.4)
    _arrow(ax, (10.4, 1.6), (11.5, 1.6))
    ax.text(5.0, 6.3, "$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$   ·   $h_t = o_t \\odot \\tanh(c_t)$",
            ha="center", fontsize=10)
    return fig


ALL = {
    "computational_graph": computational_graph,
    "convolution": convolution,
    "max_pooling": max_pooling,
    "residual_block": residual_block,
    "lstm_cell": lstm_cell,
}
