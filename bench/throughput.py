"""Rendimiento de la calificación en paralelo: N entregas con 1 y con 2 procesos.

Uso: python bench/throughput.py [--entregas 20] [--lab 01_tensores] [--procesos 1 2]

Entrega N copias de la solución de referencia de un laboratorio, las califica con cada número de
procesos (cada entrega en su caja) e imprime el tiempo, las entregas por minuto y la aceleración
frente a 1 proceso. Comprueba además que todas las notas coinciden con la calificación secuencial.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import machine, make_course, submit_reference

from curso_pytorch import gradebook, grading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entregas", type=int, default=20)
    parser.add_argument("--lab", default="01_tensores")
    parser.add_argument("--procesos", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(machine(), f"· {args.entregas} entregas de {args.lab}")
    print(f"{'procesos':>8} {'tiempo (s)':>11} {'entregas/min':>13} {'aceleración':>12}")
    base, first_scores = None, None
    with tempfile.TemporaryDirectory() as tmp:
        root = make_course(Path(tmp) / "curso", [args.lab])
        students = [f"alumno_{i:03d}" for i in range(args.entregas)]
        for student in students:
            submit_reference(root, args.lab, student)
        for workers in args.procesos:
            start = time.perf_counter()
            grading.grade(root, args.lab, workers=workers, report=lambda line: None)
            elapsed = time.perf_counter() - start
            scores = {s: gradebook.cell_scores(root, args.lab, s) for s in students}
            if first_scores is None:
                first_scores = scores
            same = "" if scores == first_scores else "  ¡NOTAS DISTINTAS!"
            base = base or elapsed
            print(f"{workers:>8} {elapsed:>11.1f} {60 * len(students) / elapsed:>13.1f} {base / elapsed:>11.2f}×{same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
