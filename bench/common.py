"""Ayudas comunes de las medidas: un curso temporal con laboratorios publicados y entregas de
la solución de referencia."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curso_pytorch import data, gradebook, publish, submissions  # noqa: E402
from curso_pytorch.course import REFERENCES  # noqa: E402


def make_course(root: Path, labs: list[str], extra_config: str = "") -> Path:
    """Copia la configuración y los laboratorios ``labs`` a ``root`` y los publica."""
    root.mkdir(parents=True, exist_ok=True)
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    (root / "nbgrader_config.py").write_text(config + extra_config, encoding="utf-8")
    for lab in labs:
        if not (root / "source" / lab).exists():
            shutil.copytree(REPO / "source" / lab, root / "source" / lab)
        publish.publish(root, lab)
    return root


def private_data_cache(folder: Path) -> Path:
    """Una caché de datos solo para la medida, en ``folder``: la de quien mide (con enlaces duros, o
    copiada) sin los resultados derivados; queda en ``$CURSO_DATA_DIR`` para lo que siga."""
    source, target = data.data_root().resolve(), folder.resolve()

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(source, target, copy_function=link, ignore=shutil.ignore_patterns(data.DERIVED_FOLDER))
    target.mkdir(parents=True, exist_ok=True)
    os.environ[data.DATA_DIR_ENV] = str(target)
    return target


def forget_results(root: Path, cache: Path) -> None:
    """Sin las referencias del juez del curso ``root`` ni los resultados derivados de ``cache``: la
    calificación siguiente empieza en frío, como la primera de una clase."""
    shutil.rmtree(root / REFERENCES, ignore_errors=True)
    shutil.rmtree(cache / data.DERIVED_FOLDER, ignore_errors=True)


def set_config(root: Path, extra_config: str) -> None:
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    (root / "nbgrader_config.py").write_text(config + extra_config, encoding="utf-8")


def submit_reference(root: Path, lab: str, student: str) -> None:
    notebooks = {p.name: submissions.reference_notebook(root, lab, p.name)
                 for p in sorted((root / "release" / lab).glob("*.ipynb"))}
    submissions.submit(root, lab, student, notebooks)


def machine() -> str:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return f"Dispositivo: {device} · núcleos de CPU: {os.cpu_count()}"


def points(root: Path, lab: str, student: str) -> str:
    scores = gradebook.cell_scores(root, lab, student)
    return f"{sum(s for s, _ in scores.values()):g}/{sum(m for _, m in scores.values()):g}"
