"""Ayudas para la celda de preparación de los cuadernos."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def is_grading() -> bool:
    """True mientras nbgrader ejecuta el cuaderno (``autograde`` o ``validate``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def seed_everything(seed: int = 0) -> None:
    """Fija las semillas de Python, NumPy y PyTorch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup(seed: int = 0, verbose: bool = True) -> torch.device:
    """Fija semillas y elige dispositivo (``cuda`` si hay GPU, si no ``cpu``)."""
    seed_everything(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if verbose:
        from .data import data_root

        print(f"PyTorch {torch.__version__} · dispositivo: {device} · datos en: {data_root()}")
    return device


def progress(iterable, **options):
    """Barra de progreso (``tqdm.auto``) que se calla durante la calificación automática."""
    from tqdm.auto import tqdm

    options.setdefault("disable", is_grading())
    return tqdm(iterable, **options)
