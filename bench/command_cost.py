"""Coste fijo de la orden ``curso calificar``: lo que tarda antes de la primera entrega y después de
la última.

Uso: python bench/command_cost.py [--lab 01_tensores] [--procesos 1 2] [--repeticiones 3]

Califica con ``python -m curso_pytorch calificar`` (un proceso nuevo cada vez, como quien lo
escribe en la terminal) tantas entregas de la referencia como procesos, después de una calificación
sin medir que llena las cachés. Lee lo que la orden imprime según lo imprime y separa:

- arranque: de lanzar la orden a «Calificando...» (importar, comprobar los datos, la plantilla);
- entregas: de ahí a la última línea «[N/N]»;
- salida: de esa línea a que el proceso termina (resumen, cerrar los procesos correctores, salir).

Imprime la mediana de cada parte; coste fijo = arranque + salida. Los datos están, como los deja
«curso datos» a un profesor, en ``data/`` del curso (una copia con enlaces duros de la caché de quien
mide), y la orden se lanza sin ``CURSO_DATA_DIR``. Para comparar dos versiones, se ejecuta desde un
árbol de trabajo de cada una con ``PYTHONPATH`` apuntando a él.
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

from common import REPO, machine, make_course, private_data_cache, submit_reference

from curso_pytorch.data import DATA_DIR_ENV


def timed_run(root: Path, lab: str, workers: int) -> tuple[float, float, float]:
    """(arranque, entregas, salida) de una ``curso calificar``, en segundos."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)}
    env.pop(DATA_DIR_ENV, None)  # la caché del curso, data/
    command = [sys.executable, "-m", "curso_pytorch", "--curso", str(root), "calificar", lab,
               "--procesos", str(workers)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    began = last = None
    lines = []
    for line in process.stdout:
        lines.append(line)
        now = time.perf_counter()
        if line.startswith("Calificando"):
            began = now
        elif line.startswith("["):
            last = now
    process.wait()
    end = time.perf_counter()
    if process.returncode != 0 or began is None or last is None:
        raise SystemExit(f"la orden falló ({process.returncode}):\n{''.join(lines[-20:])}")
    return began - start, last - began, end - last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="01_tensores")
    parser.add_argument("--procesos", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeticiones", type=int, default=3)
    args = parser.parse_args()
    print(machine(), f"· {args.lab} · repeticiones: {args.repeticiones} · código: {REPO}")
    print(f"{'procesos':>8} {'arranque (s)':>13} {'entregas (s)':>13} {'salida (s)':>11} {'coste fijo (s)':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        root = make_course(Path(tmp) / "curso", [args.lab])
        private_data_cache(root / "data")
        for workers in sorted(args.procesos):
            for student in range(workers):
                submit_reference(root, args.lab, f"alumno_{student:03d}")
            timed_run(root, args.lab, workers)  # sin medir: referencias del juez y datos derivados
            runs = [timed_run(root, args.lab, workers) for _ in range(args.repeticiones)]
            start, grading, leave = (statistics.median(part) for part in zip(*runs))
            print(f"{workers:>8} {start:>13.2f} {grading:>13.2f} {leave:>11.2f} {start + leave:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
