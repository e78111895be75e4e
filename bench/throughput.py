"""Rendimiento de la calificación en paralelo: N entregas con 1 y con 2 procesos, por laboratorio.

Uso: python bench/throughput.py [--entregas 20] [--lab 01_tensores ...] [--procesos 1 2]

Entrega N copias de la solución de referencia de cada laboratorio, las califica con cada número de
procesos (cada entrega en su caja) e imprime el tiempo, las entregas por minuto y la aceleración
frente a 1 proceso. Comprueba además que todas las notas coinciden con la calificación secuencial.
Cada calificación empieza en frío, como la primera de una clase: sin las referencias del juez ni
los resultados derivados de la caché de datos (la medida usa una copia de la caché sin ellos).

Al final, una proyección para una clase de 500 alumnos con los laboratorios medidos: con P
procesos en esta máquina, una entrega de ``lab`` ocupa ``c_lab = P · T_lab / N`` segundos de
núcleo (con el reparto y la contención que hubo); en una máquina de K núcleos con K procesos,
``T = 500 · Σ c_lab / K``; en un clúster de Dask de M máquinas así, ``T / M`` (sin contar el
planificador ni el envío de las tareas, que son pequeños frente a una entrega). En frío, cada
entrega carga con su parte de lo que se paga una vez por laboratorio (las referencias del juez, los
resultados derivados) repartido entre N; por eso el mayor número de procesos se mide otra vez en
caliente, y la segunda proyección es ``Σ (T_frío − T_caliente) + 500 · Σ c_lab(caliente) / K``
(lo que se paga una vez, sin repartir entre las máquinas).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import forget_results, machine, make_course, private_data_cache, submit_reference

from curso_pytorch import gradebook, grading
from curso_pytorch.course import REASONS_FILE

STUDENTS, CORES, MACHINES = 500, 16, 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entregas", type=int, default=20)
    parser.add_argument("--lab", nargs="+", default=["01_tensores"])
    parser.add_argument("--procesos", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(machine(), f"· {args.entregas} entregas de cada laboratorio")
    print(f"{'laboratorio':<18} {'procesos':>8} {'tiempo (s)':>11} {'entregas/min':>13} {'aceleración':>12}")
    core_seconds = warm_core_seconds = one_time = 0.0
    cache_folder = tempfile.TemporaryDirectory()
    cache = private_data_cache(Path(cache_folder.name) / "datos")
    most = max(args.procesos)
    # Cada número de procesos en frío y, al final, el mayor otra vez en caliente: con las referencias
    # del juez y los resultados derivados que dejó la pasada anterior, como las entregas de una clase
    # después de las primeras.
    passes = [(workers, True) for workers in args.procesos] + [(most, False)]
    for lab in args.lab:
        base, first_scores, times = None, None, {}
        with tempfile.TemporaryDirectory() as tmp:
            root = make_course(Path(tmp) / "curso", [lab])
            students = [f"alumno_{i:03d}" for i in range(args.entregas)]
            for student in students:
                submit_reference(root, lab, student)
            for workers, cold in passes:
                if cold:
                    forget_results(root, cache)
                start = time.perf_counter()
                grading.grade(root, lab, workers=workers, report=lambda line: None)
                elapsed = times[workers, cold] = time.perf_counter() - start
                scores = {s: gradebook.cell_scores(root, lab, s) for s in students}
                why = {s: reasons(root, lab, s) for s in students}
                if first_scores is None:
                    first_scores, first_why = scores, why
                same = "" if scores == first_scores else "  ¡NOTAS DISTINTAS!"
                base = base or elapsed
                label = f"{workers}" if cold else f"{workers} (caliente)"
                print(f"{lab:<18} {label:>8} {elapsed:>11.1f} {60 * len(students) / elapsed:>13.1f} "
                      f"{base / elapsed:>11.2f}×{same}")
                for student in students:  # qué celda cambió y por qué: para poder investigarlo
                    for cell in sorted(set(scores[student]) | set(first_scores[student])):
                        now, before = scores[student].get(cell), first_scores[student].get(cell)
                        if now != before:
                            print(f"    {student} · {cell}: {before} con {args.procesos[0]} proceso(s) "
                                  f"({first_why[student].get(cell, '')!r}), {now} con {label} "
                                  f"({why[student].get(cell, '')!r})")
        core_seconds += most * times[most, True] / len(students)
        warm_core_seconds += most * times[most, False] / len(students)
        one_time += max(0.0, times[most, True] - times[most, False])
    cache_folder.cleanup()
    total = STUDENTS * core_seconds
    print(f"Proyección, {STUDENTS} alumnos × {len(args.lab)} laboratorio(s), con {most} procesos "
          f"medidos: Σ c_lab = {core_seconds:.1f} s de núcleo por alumno; una máquina de {CORES} núcleos: "
          f"{total / CORES / 60:.1f} min; {MACHINES} máquinas con Dask: {total / CORES / MACHINES / 60:.1f} min.")
    warm = STUDENTS * warm_core_seconds / CORES
    print(f"Con lo que se paga una vez por laboratorio aparte (en caliente: Σ c_lab = {warm_core_seconds:.1f} s "
          f"por alumno; una vez: Σ (T_frío − T_caliente) = {one_time:.1f} s): una máquina de {CORES} núcleos: "
          f"{(one_time + warm) / 60:.1f} min; {MACHINES} máquinas con Dask: {(one_time + warm / MACHINES) / 60:.1f} min.")
    return 0


def reasons(root: Path, lab: str, student: str) -> dict[str, str]:
    """El motivo de cada celda de la última calificación de ``student`` (``.motivos.json``)."""
    saved = json.loads((root / "autograded" / student / lab / REASONS_FILE).read_text(encoding="utf-8"))
    return {cell["grade_id"]: cell["reason"] for cell in saved["celdas"]}


if __name__ == "__main__":
    sys.exit(main())
