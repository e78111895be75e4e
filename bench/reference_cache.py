"""Lo que ahorra la caché de referencias del juez: el mismo trabajo calificado con el diseño de
antes (pruebas ocultas y referencias en el núcleo de cada alumno) y con el de ahora, en la misma
ejecución.

Uso: python bench/reference_cache.py [LAB ...] [--antes COMMIT] [--lab LAB] [--entregas 20] [--procesos 1]

Saca el commit de antes a un árbol de trabajo temporal (``git worktree``) y, para cada árbol
(antes y ahora, en un proceso aparte con su propio paquete), mide:

1. la entrega completa (los siete laboratorios) del primer alumno de una clase: con el diseño de
   ahora, la caché está vacía y el juez calcula las referencias;
2. la misma entrega del segundo alumno: con el diseño de ahora, las referencias ya están en la
   caché (``.referencias/`` junto al libro);
3. ``--entregas`` entregas de ``--lab`` en un curso nuevo, en una sola llamada (el primero llena
   la caché, los demás la usan).

Imprime los segundos de cada laboratorio y los totales, y los puntos (deben ser el máximo en
todos). Necesita los datos en la caché o un espejo (CURSO_DATA_MIRROR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "ca4f35a"  # el último commit con todas las pruebas ocultas en el núcleo del alumno


# Las tres ayudas siguientes repiten a propósito las de bench/common.py: ese módulo pone en sys.path
# el paquete de este repositorio, y el proceso hijo debe importar el del árbol que mide.


def _course(tree: Path, root: Path, labs: list[str]) -> None:
    from curso_pytorch import publish

    root.mkdir(parents=True)
    shutil.copy(tree / "nbgrader_config.py", root)
    for lab in labs:
        shutil.copytree(tree / "source" / lab, root / "source" / lab)
        publish.publish(root, lab)


def _submit(root: Path, lab: str, student: str) -> None:
    from curso_pytorch import submissions

    notebooks = {p.name: submissions.reference_notebook(root, lab, p.name)
                 for p in sorted((root / "release" / lab).glob("*.ipynb"))}
    submissions.submit(root, lab, student, notebooks)


def _points(root: Path, lab: str, student: str) -> list[float]:
    from curso_pytorch import gradebook

    scores = gradebook.cell_scores(root, lab, student)
    return [sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())]


def measure(tree: Path, lab: str, count: int, workers: int, labs: list[str]) -> dict:
    """Las tres medidas con el paquete de ``tree`` (lo importa este proceso, hijo del principal)."""
    from curso_pytorch import course, grading

    labs = labs or course.labs(tree)
    quiet = lambda line: None  # noqa: E731
    result = {"laboratorios": labs, "entrega": {}, "puntos": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "curso"
        _course(tree, root, labs)
        for student in ("alumno_1", "alumno_2"):
            for which in labs:
                _submit(root, which, student)
                start = time.perf_counter()
                grading.grade(root, which, student, report=quiet)
                result["entrega"].setdefault(student, {})[which] = time.perf_counter() - start
                result["puntos"][f"{student} {which}"] = _points(root, which, student)
        root = Path(tmp) / "clase"
        _course(tree, root, [lab])
        students = [f"alumno_{i:03d}" for i in range(count)]
        for student in students:
            _submit(root, lab, student)
        start = time.perf_counter()
        grading.grade(root, lab, workers=workers, report=quiet)
        result["clase"] = time.perf_counter() - start
        for student in students:
            result["puntos"][f"{student} {lab}"] = _points(root, lab, student)
    return result


def _run(tree: Path, args) -> dict:
    """``measure`` en un proceso con el paquete de ``tree`` en lugar del de este repositorio."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--medir", str(tree), "--lab", args.lab,
               "--entregas", str(args.entregas), "--procesos", str(args.procesos), *args.laboratorios]
    output = subprocess.run(command, env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _full(points: dict) -> bool:
    return all(got == top for got, top in points.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--antes", default=BEFORE, help=f"commit del diseño de antes (por defecto {BEFORE})")
    parser.add_argument("--lab", default="03_entrenamiento")
    parser.add_argument("--entregas", type=int, default=20)
    parser.add_argument("--procesos", type=int, default=1)
    parser.add_argument("laboratorios", nargs="*", help="la entrega completa solo con estos (por defecto, los siete)")
    parser.add_argument("--medir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.medir:
        print(json.dumps(measure(args.medir, args.lab, args.entregas, args.procesos, args.laboratorios)))
        return 0

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"Dispositivo: {device} · núcleos de CPU: {os.cpu_count()} · antes: {args.antes} · "
          f"{args.entregas} entregas de {args.lab} con {args.procesos} proceso(s)")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "antes"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(old), args.antes], check=True)
        try:
            before = _run(old, args)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=True)
    now = _run(REPO, args)

    print(f"\n{'laboratorio':<20} {'antes 1.º':>10} {'antes 2.º':>10} {'ahora 1.º':>10} {'ahora 2.º':>10}  (s)")
    for lab in now["laboratorios"]:
        row = [run["entrega"][s].get(lab, float("nan")) for run in (before, now) for s in ("alumno_1", "alumno_2")]
        print(f"{lab:<20} " + " ".join(f"{t:>10.1f}" for t in row))
    totals = [sum(run["entrega"][s].values()) for run in (before, now) for s in ("alumno_1", "alumno_2")]
    print(f"{'entrega completa':<20} " + " ".join(f"{t:>10.1f}" for t in totals))
    print(f"\n{args.entregas} entregas de {args.lab}: antes {before['clase']:.1f} s, ahora {now['clase']:.1f} s "
          f"({before['clase'] / now['clase']:.2f}× más rápido)")
    ok = _full(before["puntos"]) and _full(now["puntos"])
    print("Puntos: el máximo en todas las entregas." if ok else "¡ALGUNA ENTREGA NO SACA EL MÁXIMO!")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
