"""Ejecuta cada laboratorio fuente (solución de referencia + pruebas ocultas) sin nbgrader.

Uso: python bench/reference_cells.py [LAB ...]

Sirve para comprobar las pruebas ocultas en una máquina sin Jupyter, p. ej. con GPU: ejecuta
las celdas de código de ``source/<lab>/<lab>.ipynb`` en orden en un mismo espacio de nombres
(como un núcleo), con NBGRADER_EXECUTION=autograde, e imprime por celda de pruebas si pasa, sus
puntos y el tiempo. En las celdas con juez (``### JUEZ``), la sonda corre en ese espacio de nombres
y el juez en el suyo, con los datos que dejó la sonda, como al calificar. Termina con código 1 si
alguna celda de pruebas falla.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_lab(lab: str, answers: dict[str, str] | None = None, quiet: bool = False,
            skip_lesson: bool = False) -> tuple[float, float, float, float]:
    """Ejecuta ``lab``; ``answers`` ({grade_id: código}) sustituye celdas de respuesta de la referencia.
    Con ``skip_lesson``, como al calificar, no ejecuta las celdas de la lección que nada necesita
    (``curso_pytorch.lesson_cells``). Devuelve (puntos, máximo, segundos, segundos sin el juez)."""
    import matplotlib

    matplotlib.use("Agg")
    from curso_pytorch import judge, lesson_cells
    from curso_pytorch.course import split_judge

    path = REPO / "source" / lab / f"{lab}.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    skipped = set()
    if skip_lesson:
        import nbformat

        from curso_pytorch.submissions import reference_notebook

        release = nbformat.read(REPO / "release" / lab / path.name, as_version=4)
        skipped = lesson_cells.skippable(reference_notebook(REPO, lab, path.name), release)
    namespace: dict = {"__name__": "__main__"}
    outbox = Path(tempfile.mkdtemp(prefix="sondas-"))
    verdicts = judge.Judge(lab, [], judge.references(None))  # sin reglas de código: es la referencia
    got = top = judging = 0.0
    start = time.perf_counter()
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or index in skipped:
            continue
        meta = cell["metadata"].get("nbgrader", {})
        source = (answers or {}).get(meta.get("grade_id"), "".join(cell["source"]))
        source = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
        source, judge_source = split_judge(source) if meta.get("grade") else (source, "")
        if judge_source.strip():
            source = judge.probe_prefix(outbox / meta["grade_id"]) + source
        t0 = time.perf_counter()
        stderr = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
                exec(compile(source, f"<{lab}:{cell.get('id')}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 (queremos informar de todo)
            error = f"{type(exc).__name__}: {exc}"
            if not meta.get("grade"):
                traceback.print_exc()
        if judge_source.strip():  # como al calificar, el juez corre aunque la celda haya fallado
            t1 = time.perf_counter()
            verdict = verdicts.run(meta["grade_id"], judge_source, judge.read_outbox(outbox / meta["grade_id"]))
            judging += time.perf_counter() - t1
            error = error or verdict
        if meta.get("grade"):
            points = float(meta.get("points", 0))
            ok = error is None
            top += points
            got += points if ok else 0
            status = "OK   " if ok else "FALLA"
            if not quiet:
                print(f"  {status} {meta['grade_id']:<36} {points:>4g} pts {time.perf_counter() - t0:6.1f} s"
                      + ("" if ok else f"  {error}"))
        elif error:
            print(f"  ERROR en una celda de la lección ({cell.get('id')}): {error}")
    seconds = time.perf_counter() - start
    return got, top, seconds, seconds - judging


def main() -> int:
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    import torch

    labs = sys.argv[1:] or sorted(p.parent.name for p in (REPO / "source").glob("*/*.ipynb"))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"torch {torch.__version__} · dispositivo: {device}")
    failed = False
    for lab in labs:
        print(f"{lab}:")
        got, top, seconds, _ = run_lab(lab)
        failed |= got != top
        print(f"  total {got:g}/{top:g} puntos en {seconds:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
