"""Tiempo de calificación automática de la solución de referencia, por laboratorio.

Uso: python bench/grading_time.py [LAB ...] [--repeticiones N]

Copia el curso a una carpeta temporal, publica cada laboratorio, entrega la solución de
referencia y mide lo que tarda ``curso calificar`` (preparar el laboratorio, núcleo en su caja,
lección y pruebas ocultas). Imprime la mediana de N repeticiones, los puntos obtenidos y el total
de la entrega completa (los siete laboratorios). Necesita los datos en la caché o un espejo
(CURSO_DATA_MIRROR).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine, make_course, points, submit_reference

from curso_pytorch import course, grading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="laboratorios (por defecto, todos)")
    parser.add_argument("--repeticiones", type=int, default=1)
    args = parser.parse_args()
    labs = args.labs or course.labs(REPO)
    print(machine(), "· repeticiones:", args.repeticiones)
    print(f"{'laboratorio':<20} {'mediana (s)':>12} {'mín (s)':>9} {'puntos':>9}")
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = make_course(Path(tmp) / "curso", labs)
        for lab in labs:
            times = []
            for _ in range(args.repeticiones):
                submit_reference(root, lab, "referencia")
                start = time.perf_counter()
                outcome = grading.grade(root, lab, "referencia", report=lambda line: None)
                times.append(time.perf_counter() - start)
                if not outcome[0].ok:
                    print(f"{lab}: ERROR {outcome[0].message}")
            median = statistics.median(times)
            total += median
            print(f"{lab:<20} {median:>12.1f} {min(times):>9.1f} {points(root, lab, 'referencia'):>9}")
    print(f"{'entrega completa':<20} {total:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
