"""Tiempo de calificación automática de la solución de referencia, por laboratorio.

Uso: python bench/grading_time.py [LAB ...] [--repeticiones N]

Copia el curso a una carpeta temporal, publica cada laboratorio, entrega la solución de
referencia y mide lo que tarda ``autograde`` (núcleo, lección y pruebas ocultas). Imprime una
tabla con la mediana de N repeticiones y los puntos obtenidos. Necesita los datos en la caché
o un espejo (CURSO_DATA_MIRROR).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curso_pytorch import course  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="laboratorios (por defecto, todos)")
    parser.add_argument("--repeticiones", type=int, default=1)
    args = parser.parse_args()
    labs = args.labs or course.labs(REPO)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"Dispositivo: {device} · núcleos de CPU: {os.cpu_count()} · repeticiones: {args.repeticiones}")
    print(f"{'laboratorio':<20} {'mediana (s)':>12} {'mín (s)':>9} {'puntos':>9}")
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "curso"
        root.mkdir()
        shutil.copy(REPO / "nbgrader_config.py", root)
        for lab in labs:
            shutil.copytree(REPO / "source" / lab, root / "source" / lab)
            course.publish(root, lab)
            notebooks = {p.name: course.reference_notebook(root, lab, p.name)
                         for p in sorted((root / "release" / lab).glob("*.ipynb"))}
            times = []
            for _ in range(args.repeticiones):
                course.submit(root, lab, "referencia", notebooks)
                start = time.perf_counter()
                outcome = course.grade(root, lab, "referencia", report=lambda line: None)
                times.append(time.perf_counter() - start)
                if not outcome[0].ok:
                    print(f"{lab}: ERROR {outcome[0].message}")
            scores = course.cell_scores(root, lab, "referencia")
            got, top = sum(s[0] for s in scores.values()), sum(s[1] for s in scores.values())
            median = statistics.median(times)
            total += median
            print(f"{lab:<20} {median:>12.1f} {min(times):>9.1f} {f'{got:g}/{top:g}':>9}")
    print(f"{'total':<20} {total:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
