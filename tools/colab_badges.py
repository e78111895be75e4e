"""Insignias «Abrir en Colab» y celdas de preparación de los cuadernos, desde una sola dirección.

La dirección es ``[project.urls] Repository`` de ``pyproject.toml``. De ella salen la insignia de
cada cuaderno y la instalación del paquete del curso en la celda de preparación (lo que hace pip en
Colab: ``curso-pytorch @ git+DIRECCIÓN``). Cada laboratorio enlaza con su copia del alumno
(``release/NN/NN.ipynb``, que ``curso publicar`` genera a partir de ``source/``) y cada lección,
consigo misma (``notebooks/NN.ipynb``). La insignia va en la celda del título, bajo el encabezado.

Uso: ``python tools/colab_badges.py`` reescribe las insignias y las celdas de preparación de
``source/`` y ``notebooks/`` y publica en ``release/`` los laboratorios que cambiaron
(``--sin-publicar`` lo deja para ``curso publicar``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
BRANCH = "main"
IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
ALT = "Abrir en Colab"
# Cualquier insignia de Colab (correcta o no), para sustituirla o contarla.
BADGE_LINE = re.compile(r"^\[!\[[^\]]*\]\([^)]*colab[^)]*\)\]\([^)]*\)[ \t]*\n?", re.M)


def repository_url(root: Path = REPO) -> str:
    """La dirección del repositorio declarada en ``pyproject.toml``."""
    project = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["urls"]["Repository"]


def colab_url(relative_path: str, root: Path = REPO) -> str:
    """Dirección de Colab que abre el cuaderno ``relative_path`` del repositorio en GitHub."""
    url = repository_url(root).rstrip("/").removesuffix(".git")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    if not match:
        raise ValueError(f"La dirección del repositorio no es de GitHub ({url}): Colab no puede abrirla.")
    owner, name = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/{relative_path}"


def target_path(notebook: Path, root: Path = REPO) -> str:
    """El cuaderno que debe abrir la insignia de ``notebook``: la copia del alumno en los laboratorios."""
    relative = Path(notebook).resolve().relative_to(Path(root).resolve())
    if relative.parts[0] in ("source", "release"):
        relative = Path("release", *relative.parts[1:])
    return relative.as_posix()


def badge(notebook: Path, root: Path = REPO) -> str:
    """La insignia en Markdown que corresponde a ``notebook``."""
    return f"[![{ALT}]({IMAGE})]({colab_url(target_path(notebook, root), root)})"


def notebooks(root: Path = REPO, folders=("source", "release", "notebooks")) -> list[Path]:
    """Los cuadernos que llevan insignia: laboratorios (fuente y alumno) y lecciones."""
    found = []
    for folder in folders:
        pattern = "*.ipynb" if folder in ("notebooks", "soluciones") else "*/*.ipynb"
        found += sorted((Path(root) / folder).glob(pattern))
    return found


def with_badge(title_source: str, line: str) -> str:
    """El texto de la celda del título con ``line`` justo bajo el encabezado (y sin otras insignias)."""
    text = BADGE_LINE.sub("", title_source)
    heading, _, rest = text.partition("\n")
    rest = rest.lstrip("\n")
    return f"{heading}\n\n{line}\n\n{rest}".rstrip("\n")


# La instalación de la celda de preparación. Si pip falla, una sola frase dice qué pasó y qué hacer, y
# la celda se detiene con un error de una línea (sin la pila de llamadas): «Ejecutar todo» se para
# ahí, en lugar de seguir y fallar en cada celda con un ImportError.
SETUP_BLOCK = '''# Preparación del entorno. En Google Colab instala el paquete del curso (y lo que falte).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("curso_pytorch") is None:
    # CURSO_PAQUETE permite instalarlo desde otra fuente (por ejemplo, una copia local).
    package = os.environ.get("CURSO_PAQUETE", "curso-pytorch @ git+{url}")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], capture_output=True, text=True)
    if pip.returncode != 0:
        class InstallError(Exception):
            def _render_traceback_(self):  # una sola línea, sin la pila de llamadas
                return [f"\\033[31mInstalación fallida\\033[0m: {{self}}"]
        said = (pip.stderr.strip().splitlines() or ["sin detalles"])[-1]
        raise InstallError(f"no se pudo instalar el paquete del curso desde {{package}} (pip dijo: «{{said}}»); "
                           "comprueba la conexión a internet y vuelve a ejecutar esta celda.")
    importlib.invalidate_caches()
'''
SETUP_BLOCK_PATTERN = re.compile(r"# Preparación del entorno\..*?    importlib\.invalidate_caches\(\)\n", re.S)


def setup_block(root: Path = REPO) -> str:
    """La instalación de la celda de preparación con la dirección de ``pyproject.toml``."""
    return SETUP_BLOCK.format(url=repository_url(root).rstrip("/"))


def write_setup_cells(root: Path = REPO) -> list[Path]:
    """Pone la instalación de ``setup_block`` en la celda de preparación de cada cuaderno de
    ``source/``, ``notebooks/`` y ``soluciones/``; devuelve los cambiados. Un cuaderno sin ella es un error."""
    changed, block = [], setup_block(root)
    for path in notebooks(root, folders=("source", "notebooks", "soluciones")):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code" and SETUP_BLOCK_PATTERN.search(c.source)]
        if len(cells) != 1:
            raise ValueError(f"{path}: se esperaba una celda de preparación con la instalación y hay {len(cells)}.")
        updated = SETUP_BLOCK_PATTERN.sub(lambda _match: block, cells[0].source, count=1)
        if updated != cells[0].source:
            cells[0].source = updated
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def write_badges(root: Path = REPO) -> list[Path]:
    """Pone (o corrige) la insignia de cada cuaderno de ``source/`` y ``notebooks/``; devuelve los cambiados."""
    changed = []
    for path in notebooks(root, folders=("source", "notebooks")):
        nb = nbformat.read(path, as_version=4)
        title = nb.cells[0]
        updated = with_badge(title.source, badge(path, root))
        others = [c for c in nb.cells[1:] if BADGE_LINE.search(c.source)]
        if updated != title.source or others:
            for cell in others:
                cell.source = BADGE_LINE.sub("", cell.source)
            title.source = updated
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main(argv=None, root: Path = REPO) -> int:
    import argparse

    from curso_pytorch import publish

    parser = argparse.ArgumentParser(description="Insignias de Colab y celdas de preparación desde "
                                                 "[project.urls] Repository de pyproject.toml.")
    parser.add_argument("--sin-publicar", action="store_true", help="no regenerar release/ (hágalo con curso publicar)")
    options = parser.parse_args(argv)
    changed = sorted(set(write_badges(root)) | set(write_setup_cells(root)))
    for path in changed:
        publish.normalize_notebook(path)
        print(f"actualizado: {path.relative_to(root)}")
    labs = sorted({path.parent.name for path in changed if path.parent.parent.name == "source"})
    if not options.sin_publicar:
        for lab in labs:
            publish.publish(root, lab)
            print(f"publicado en release/: {lab}")
    if not changed:
        print(f"Todo al día con {repository_url(root)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
