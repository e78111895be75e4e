"""Lo que cuesta la caja: calificación de la referencia con y sin aislamiento, por laboratorio.

Uso: python bench/sandbox_overhead.py [LAB ...] [--repeticiones N]

Para cada laboratorio califica la solución de referencia con el Execute del curso dos veces: en
la caja de bubblewrap y sin ella (como en una máquina sin bubblewrap: solo los límites de recursos),
con el mismo juez, las mismas celdas saltadas y las mismas defensas, alternando el orden en cada
repetición (después de una calificación sin medir que llena la caché de referencias y la de datos),
e imprime las medianas, el sobrecoste en % y los puntos de cada manera (deben ser los
mismos). La máquina es compartida y ruidosa: lo que cuenta es la proporción dentro de una misma
ejecución.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine, make_course, points, submit_reference

from curso_pytorch import course, grading, sandbox


@contextlib.contextmanager
def _without_bubblewrap():
    """Como en una máquina sin bubblewrap: el núcleo se lanza solo con los límites de recursos."""
    original = sandbox.bubblewrap_problem
    sandbox.bubblewrap_problem = lambda: "medida sin caja"
    try:
        yield
    finally:
        sandbox.bubblewrap_problem = original


def _time(root: Path, lab: str, boxed: bool) -> tuple[float, str]:
    submit_reference(root, lab, "referencia")
    with contextlib.nullcontext() if boxed else _without_bubblewrap():
        start = time.perf_counter()
        outcome = grading.grade(root, lab, "referencia", report=lambda line: None)
        elapsed = time.perf_counter() - start
    if not outcome[0].ok:
        print(f"  {lab}: ERROR {outcome[0].message}")
    return elapsed, points(root, lab, "referencia")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="laboratorios (por defecto, todos)")
    parser.add_argument("--repeticiones", type=int, default=2)
    args = parser.parse_args()
    labs = args.labs or course.labs(REPO)
    print(machine(), "·", sandbox.describe(), "· repeticiones:", args.repeticiones)
    print(f"{'laboratorio':<20} {'sin caja (s)':>13} {'con caja (s)':>13} {'sobrecoste':>11} {'puntos (sin / con)':>20}")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        root = make_course(Path(tmp) / "curso", labs)
        for lab in labs:
            _time(root, lab, True)  # sin medir: llena la caché de referencias del juez y la de datos
            runs = {False: [], True: []}
            for repetition in range(args.repeticiones):
                for boxed in (True, False) if repetition % 2 else (False, True):
                    runs[boxed].append(_time(root, lab, boxed))
            a = statistics.median(t for t, _ in runs[False])
            b = statistics.median(t for t, _ in runs[True])
            totals[0] += a
            totals[1] += b
            scores = f"{runs[False][-1][1]} / {runs[True][-1][1]}"
            print(f"{lab:<20} {a:>13.1f} {b:>13.1f} {100 * (b - a) / a:>10.1f}% {scores:>20}")
    a, b = totals
    print(f"{'total':<20} {a:>13.1f} {b:>13.1f} {100 * (b - a) / a:>10.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
