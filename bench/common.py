"""Ayudas comunes de las medidas: un curso temporal con laboratorios publicados y entregas de
la solución de referencia."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curso_pytorch import gradebook, publish, submissions  # noqa: E402

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
