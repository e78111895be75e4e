"""Insignias «Abrir en Colab» de los cuadernos, construidas desde una sola dirección del repositorio.

La dirección es ``[project.urls] Repository`` de ``pyproject.toml`` (la misma que usa la celda de
preparación para instalar el paquete en Colab). Cada laboratorio enlaza con su copia del alumno
(``release/NN/NN.ipynb``, que ``curso publicar`` genera a partir de ``source/``) y cada lección,
consigo misma (``notebooks/NN.ipynb``). La insignia va en la celda del título, bajo el encabezado.

Uso: ``python tools/colab_badges.py`` reescribe las insignias de ``source/`` y ``notebooks/``;
después, ``curso publicar`` las lleva a ``release/``.
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
        pattern = "*.ipynb" if folder == "notebooks" else "*/*.ipynb"
        found += sorted((Path(root) / folder).glob(pattern))
    return found


def with_badge(title_source: str, line: str) -> str:
    """El texto de la celda del título con ``line`` justo bajo el encabezado (y sin otras insignias)."""
    text = BADGE_LINE.sub("", title_source)
    heading, _, rest = text.partition("\n")
    rest = rest.lstrip("\n")
    return f"{heading}\n\n{line}\n\n{rest}".rstrip("\n")


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


if __name__ == "__main__":
    for path in write_badges():
        print(f"insignia actualizada: {path.relative_to(REPO)}")
