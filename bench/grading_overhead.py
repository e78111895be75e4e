"""Lo que cuesta calificar una entrega frente a lo que calcula: por laboratorio, en una ejecución.

Uso: python bench/grading_overhead.py [LAB ...] [--entregas 3]

Para cada laboratorio imprime:

- «cálculo»: las celdas que ejecuta la calificación (las de la lección que hacen falta, las
  respuestas y las sondas de las pruebas), en este proceso, con torch ya importado y sin el juez
  (segunda de dos ejecuciones: la primera calienta importaciones y referencias);
- «por entrega»: lo que tarda cada entrega con ``curso calificar`` (1 proceso, núcleo en su caja,
  referencias del juez ya en la caché: la mediana de la 2.ª entrega en adelante) y la razón
  frente al cálculo;
- «sin saltar»: una entrega calificada ejecutando todas las celdas de la lección
  (``c.SafeExecute.skip_lesson_cells = False``, como antes), en la misma ejecución;
- «núcleo de siempre»: la mediana de las mismas entregas con núcleos que importan torch ellos
  mismos (``c.SafeExecute.fork_kernels = False``), sin el proceso de origen
  (``curso_pytorch.forked_kernels``);
- «fijo»: lo que ``grading.grade`` tarda además de sus entregas (plantilla del laboratorio, datos).

Comprueba que las notas de cada entrega coinciden con las de la calificación sin saltar celdas y
con las de los núcleos de siempre.
Al final, lo que tarda en arrancar la orden ``curso`` (importar la línea de órdenes y nbgrader).
Necesita los datos en la caché o un espejo (CURSO_DATA_MIRROR).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine, make_course, set_config, submit_reference
from reference_cells import run_lab

from curso_pytorch import course, gradebook, grading

NO_SKIPPING = "\nc.SafeExecute.skip_lesson_cells = False\n"
NO_FORKING = "\nc.SafeExecute.fork_kernels = False\n"


def compute_seconds(lab: str) -> float:
    run_lab(lab, quiet=True, skip_lesson=True)
    got, top, _, kernel_side = run_lab(lab, quiet=True, skip_lesson=True)
    if got != top:
        raise SystemExit(f"{lab}: la referencia no saca el máximo en este proceso ({got:g}/{top:g})")
    return kernel_side


def grade_seconds(root: Path, lab: str, students: list[str]) -> tuple[list[float], float, dict]:
    start = time.perf_counter()
    outcomes = grading.grade(root, lab, report=lambda line: None)
    total = time.perf_counter() - start
    seconds = {o.student: o.result.seconds for o in outcomes if o.result is not None}
    scores = {s: gradebook.cell_scores(root, lab, s) for s in students}
    return [seconds[s] for s in students], total - sum(seconds.values()), scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="laboratorios (por defecto, todos)")
    parser.add_argument("--entregas", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    labs = args.labs or course.labs(REPO)
    print(machine(), f"· {args.entregas} entregas por laboratorio, 1 proceso")
    print(f"{'laboratorio':<18} {'cálculo (s)':>11} {'por entrega (s)':>15} {'razón':>6} "
          f"{'núcleo de siempre (s)':>21} {'sin saltar (s)':>14} {'fijo (s)':>9}  notas")
    totals = [0.0, 0.0, 0.0, 0.0]
    different = False
    for lab in labs:
        compute = compute_seconds(lab)
        with tempfile.TemporaryDirectory() as tmp:
            root = make_course(Path(tmp) / "curso", [lab])
            students = [f"alumno_{i}" for i in range(args.entregas)]
            for student in students:
                submit_reference(root, lab, student)
            times, fixed, scores = grade_seconds(root, lab, students)
            set_config(root, NO_FORKING)
            classic_times, _, classic_scores = grade_seconds(root, lab, students)
            set_config(root, NO_SKIPPING)
            slow_times, _, slow_scores = grade_seconds(root, lab, students[-1:])
        per_submission = statistics.median(times[1:] or times)
        classic = statistics.median(classic_times[1:] or classic_times)
        same = all(scores[s] == slow_scores[students[-1]] == classic_scores[s] for s in students)
        different |= not same
        totals[0] += compute
        totals[1] += per_submission
        totals[2] += slow_times[0]
        totals[3] += classic
        print(f"{lab:<18} {compute:>11.1f} {per_submission:>15.1f} {per_submission / compute:>5.1f}× "
              f"{classic:>21.1f} {slow_times[0]:>14.1f} {fixed:>9.1f}  {'iguales' if same else '¡DISTINTAS!'}")
    print(f"{'entrega completa':<18} {totals[0]:>11.1f} {totals[1]:>15.1f} {totals[1] / totals[0]:>5.1f}× "
          f"{totals[3]:>21.1f} {totals[2]:>14.1f}")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "curso_pytorch", "--help"], capture_output=True, check=True)
    cli = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import curso_pytorch.grading, nbgrader.apps"], capture_output=True,
                   check=True, cwd=REPO)
    print(f"arranque de la orden curso: {cli:.1f} s (con nbgrader importado: {time.perf_counter() - start:.1f} s)")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
