"""Lo que cuesta la caja: calificación de la referencia con y sin aislamiento, por laboratorio.

Uso: python bench/sandbox_overhead.py [LAB ...] [--repeticiones N]

Para cada laboratorio califica la solución de referencia con el Execute de nbgrader tal cual y
con el del curso (bubblewrap, límites, defensas), alternando el orden en cada repetición, e
imprime las medianas y el sobrecoste en %. La máquina es compartida y ruidosa: lo que cuenta es
la proporción dentro de una misma ejecución.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, WITHOUT_SANDBOX, machine, make_course, points, set_config, submit_reference

from curso_pytorch import course, grading, sandbox


def _time(root: Path, lab: str, config: str) -> float:
    set_config(root, config)
    submit_reference(root, lab, "referencia")
    start = time.perf_counter()
    outcome = grading.grade(root, lab, "referencia", report=lambda line: None)
    elapsed = time.perf_counter() - start
    if not outcome[0].ok:
        print(f"  {lab}: ERROR {outcome[0].message}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="laboratorios (por defecto, todos)")
    parser.add_argument("--repeticiones", type=int, default=2)
    args = parser.parse_args()
    labs = args.labs or course.labs(REPO)
    print(machine(), "·", sandbox.describe(), "· repeticiones:", args.repeticiones)
    print(f"{'laboratorio':<20} {'sin caja (s)':>13} {'con caja (s)':>13} {'sobrecoste':>11} {'puntos':>8}")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        root = make_course(Path(tmp) / "curso", labs)
        for lab in labs:
            plain, boxed = [], []
            for repetition in range(args.repeticiones):
                order = [("", boxed), (WITHOUT_SANDBOX, plain)]
                for config, sink in order if repetition % 2 else order[::-1]:
                    sink.append(_time(root, lab, config))
            a, b = statistics.median(plain), statistics.median(boxed)
            totals[0] += a
            totals[1] += b
            print(f"{lab:<20} {a:>13.1f} {b:>13.1f} {100 * (b - a) / a:>10.1f}% {points(root, lab, 'referencia'):>8}")
    a, b = totals
    print(f"{'total':<20} {a:>13.1f} {b:>13.1f} {100 * (b - a) / a:>10.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
