"""La orden principal (demo) de principio a fin en una copia del curso: publica, entrega la
referencia y la copia en blanco de cada laboratorio, califica, genera retroalimentación y
muestra y exporta las notas."""

from __future__ import annotations

import csv
import html
import subprocess
import sys

import nbformat

from curso_pytorch import course

from tests import leaks


def test_demo_end_to_end(course_copy):
    run = subprocess.run(
        [sys.executable, "-m", "curso_pytorch", "--curso", str(course_copy), "demo"],
        capture_output=True, text=True, timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    labs = course.labs(course_copy)
    out = run.stdout
    for step in ("1/5 Datos", "2/5 Publicar", "3/5 Entregas", "4/5 Calificación", "5/5 Retroalimentación"):
        assert step in out
    assert "Alumno" in out and "Total" in out and "ERROR" not in out

    with open(course_copy / "notas.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["alumno"], r["laboratorio"]) for r in rows} == {
        (s, lab) for s in ("referencia", "en_blanco") for lab in labs
    }
    for r in rows:
        expected = r["maximo"] if r["alumno"] == "referencia" else "0"
        assert r["puntos"] == expected, r
        assert f'{r["puntos"]}/{r["maximo"]}' in out

    for lab in labs:
        # Las líneas ocultas que no aparecen en ningún otro lugar del cuaderno del alumno.
        release = nbformat.read(course_copy / "release" / lab / f"{lab}.ipynb", as_version=4)
        visible = "\n".join(cell.source for cell in release.cells)
        secret = [line for line in leaks.hidden_test_snippets(course_copy, lab) if line not in visible]
        assert secret
        for student in ("referencia", "en_blanco"):
            page = (course_copy / "feedback" / student / lab / f"{lab}.html").read_text(encoding="utf-8")
            text = html.unescape(page)
            for line in secret:
                assert line not in text, f"la retroalimentación de {lab} muestra código oculto: {line}"
