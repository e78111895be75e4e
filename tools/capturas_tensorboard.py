"""Capturas de las pantallas de TensorBoard para la lección 07, hechas aquí con una ejecución real.

1. Entrena dos veces, con dos tasas de aprendizaje, una red pequeña en un subconjunto de MNIST (la
   capa de datos del curso) y registra con ``torch.utils.tensorboard`` escalares con etiquetas
   jerárquicas, un lote de imágenes, histogramas de pesos, el grafo del modelo, curvas de
   precisión-exhaustividad y una proyección de la capa oculta con sus imágenes.
2. Arranca ``tensorboard --logdir runs`` en un puerto libre de 127.0.0.1.
3. Abre las pestañas SCALARS, IMAGES, GRAPHS, PR CURVES y PROJECTOR en el Chromium sin pantalla
   de las pruebas (Playwright), espera a que cada una muestre lo registrado y la fotografía.
4. Guarda las capturas en PNG con paleta (pocas decenas de KB cada una).

Uso: ``python tools/capturas_tensorboard.py [CARPETA]`` (por defecto ``notebooks/imagenes/tensorboard``,
la que muestra la lección). Tarda entre uno y dos minutos en una máquina de dos núcleos; la pestaña
más lenta es la del proyector, que Chromium dibuja con WebGL sin GPU.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # «python tools/capturas_tensorboard.py» desde la raíz del repositorio
    sys.path.insert(0, str(REPO))

from tools import navegador

DESTINATION = REPO / "notebooks" / "imagenes" / "tensorboard"
#: Pantalla -> pestaña de TensorBoard (el fragmento de la dirección) que se fotografía.
SCREENS = {
    "escalares": "scalars",
    "imagenes": "images",
    "grafo": "graphs",
    "curvas_pr": "pr_curves",
    "proyector": "projector",
}
LEARNING_RATES = (0.05, 0.01)
VIEWPORT = {"width": 1400, "height": 800}
EMBEDDED = 500  # puntos de la proyección


def run_name(lr: float) -> str:
    return f"lr={lr}_batch_size=128_hidden=64"


def log_runs(runs: Path, epochs: int = 4) -> list[str]:
    """Entrena y registra una ejecución por tasa de aprendizaje en ``runs``; devuelve sus nombres."""
    import torch
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    from curso_pytorch.data import load_mnist, make_loader

    images, labels = load_mnist("train", subset=4000, as_float=True)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train, val = order[:3000], order[3000:]      # la validación sale del entrenamiento
    x_val, y_val = images[val], labels[val]
    names = []
    for lr in LEARNING_RATES:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        loader = make_loader(images[train], labels[train], batch_size=128, shuffle=True, seed=0)
        name = run_name(lr)
        writer = SummaryWriter(log_dir=str(runs / name))
        writer.add_images("datos/lote_de_entrenamiento", images[train][:32], 0)
        with warnings.catch_warnings():  # add_graph usa torch.jit.trace, en desuso (FutureWarning)
            warnings.simplefilter("ignore")
            writer.add_graph(model, images[:8])
        step = 0
        for epoch in range(epochs):
            model.train()
            for x, y in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
                writer.add_scalar("pérdida/entrenamiento_lote", loss.item(), step)
                step += 1
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
            writer.add_scalar("pérdida/validación", loss_fn(logits, y_val).item(), epoch)
            writer.add_scalar("exactitud/validación", (logits.argmax(1) == y_val).float().mean().item(), epoch)
            writer.add_histogram("pesos/capa1", model[1].weight, epoch)
        probs = torch.softmax(logits, dim=1)
        for digit in (3, 8):
            writer.add_pr_curve(f"pr/es_un_{digit}", (y_val == digit).long(), probs[:, digit], global_step=epoch)
        if lr == LEARNING_RATES[0]:
            with torch.no_grad():
                hidden = model[:3](x_val[:EMBEDDED])        # la capa oculta: 64 números por imagen
            writer.add_embedding(hidden, metadata=y_val[:EMBEDDED].tolist(), label_img=x_val[:EMBEDDED],
                                 tag="capa_oculta")
        writer.close()
        names.append(name)
    return names


@contextmanager
def tensorboard(folder: Path, timeout: float = 60):
    """``tensorboard --logdir runs`` con ``folder`` como carpeta de trabajo; da su dirección."""
    port = navegador.free_port()
    log_path = folder / "tensorboard.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", "runs", "--host", "127.0.0.1",
             "--port", str(port), "--load_fast", "false"],
            cwd=folder, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/data/runs", timeout=5) as response:
                    if response.status == 200 and response.read().strip() not in (b"", b"[]"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("TensorBoard no arrancó:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(page, screen: str) -> None:
    """Espera a que la pestaña muestre lo registrado (y, en el grafo, abre el modelo)."""
    if screen == "escalares":
        page.get_by_text("exactitud/validación", exact=True).first.wait_for()
        page.locator("tf-scalar-card svg path.line").first.wait_for(state="attached")
        # Con solo cuatro épocas, «ignorar valores atípicos» recortaría la primera de cada curva.
        page.locator("paper-checkbox", has_text="Ignore outliers").first.click()
    elif screen == "imagenes":
        page.locator("tf-image-loader img").first.wait_for()
    elif screen == "grafo":
        node = page.locator("g.node", has_text="Sequential").first
        node.wait_for()
        node.locator(".nodeshape").first.dblclick()            # abre el Sequential: sus cuatro capas
        page.locator("g.node", has_text="Linear").first.wait_for()
        page.evaluate("() => window.getSelection().removeAllRanges()")  # el doble clic selecciona texto
    elif screen == "curvas_pr":
        page.get_by_text("pr/es_un_3", exact=True).first.wait_for()
    elif screen == "proyector":
        projector = page.frame_locator("iframe").frame_locator("iframe")  # la pestaña va en marcos
        projector.get_by_text(re.compile(rf"Points:\s*{EMBEDDED}")).first.wait_for()
        projector.locator("paper-dropdown-menu", has_text="Color by").first.click()
        projector.locator("paper-item", has_text="10 colors").first.click()  # un color por dígito
    page.wait_for_timeout(1500)  # transiciones de las gráficas y de la proyección


def capture(url: str, destination: Path) -> list[Path]:
    """Fotografía cada pestaña de ``SCREENS`` en ``destination`` (PNG con paleta)."""
    sync_playwright, _ = navegador.browser_tools()
    destination.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as playwright:
        browser = navegador.launch(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            for screen, tab in SCREENS.items():
                start = time.perf_counter()
                page.goto(f"{url}/#{tab}")  # cambia de pestaña sin volver a cargar la aplicación
                try:
                    _ready(page, screen)
                except Exception as error:
                    page.screenshot(path=str(destination / f"error_{screen}.png"))
                    raise RuntimeError(f"La pestaña {tab} de TensorBoard no mostró lo registrado: {error}") from error
                page.mouse.move(0, VIEWPORT["height"] - 1)  # sin el puntero sobre una gráfica
                path = destination / f"{screen}.png"
                page.screenshot(path=str(path))
                shrink(path)
                paths.append(path)
                print(f"{tab}: {time.perf_counter() - start:.1f} s", flush=True)
        finally:
            browser.close()
    return paths


def shrink(path: Path, colors: int = 128) -> None:
    """Reescribe la captura como PNG con paleta de ``colors`` colores (un tercio del tamaño o menos)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def make(destination: Path = DESTINATION) -> list[Path]:
    """Todo el proceso en una carpeta temporal; deja solo las capturas en ``destination``."""
    with tempfile.TemporaryDirectory(prefix="tensorboard-") as work:
        work = Path(work)
        start = time.perf_counter()
        log_runs(work / "runs")
        print(f"entrenamiento y registro: {time.perf_counter() - start:.1f} s", flush=True)
        with tensorboard(work) as url:
            print(f"TensorBoard en marcha: {time.perf_counter() - start:.1f} s", flush=True)
            return capture(url, Path(destination))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    destination = Path(args[0]) if args else DESTINATION
    start = time.perf_counter()
    paths = make(destination)
    for path in paths:
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    print(f"{len(paths)} capturas en {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
