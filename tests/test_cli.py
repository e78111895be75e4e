"""La línea de órdenes habla español y falla con mensajes claros."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from curso_pytorch import cli

REPO = Path(__file__).resolve().parents[1]


def test_help_is_in_spanish():
    out = subprocess.run([sys.executable, "-m", "curso_pytorch", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("uso:", "opciones", "publicar", "calificar", "retroalimentacion", "notas", "demo", "comprobar",
                 "soluciones"):
        assert word in out.stdout
    assert "show this help" not in out.stdout


def test_unknown_command_is_explained_in_spanish():
    out = subprocess.run([sys.executable, "-m", "curso_pytorch", "corregir"], capture_output=True, text=True)
    assert out.returncode == 2 and "orden no válida" in out.stderr


# Lo que quien califica lee antes de la primera entrega (la línea de órdenes, la configuración del
# curso, la preparación del juez) no importa torch: el juez lo importa en un hilo mientras arranca el
# primer núcleo (``execute.import_judge_in_background``).
NO_TORCH_YET = """
import sys
sys.path.insert(0, {repo!r})
import curso_pytorch.cli, curso_pytorch.execute, curso_pytorch.course as course
exec(open({config!r}).read(), {{"get_config": lambda: __import__("traitlets.config").config.Config()}})
course.split_judge(open({lab!r}).read())
print("torch" in sys.modules)
curso_pytorch.execute.import_judge_in_background()
curso_pytorch.execute._JUDGE_IMPORT[0].join()
print("curso_pytorch.judge" in sys.modules)
"""


def test_grading_setup_leaves_torch_to_a_background_thread():
    code = NO_TORCH_YET.format(repo=str(REPO), config=str(REPO / "nbgrader_config.py"),
                               lab=str(REPO / "source" / "01_tensores" / "01_tensores.ipynb"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_outside_a_course_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["publicar"]) == 1
    assert "No encuentro la carpeta del curso" in capsys.readouterr().err


def test_unknown_lab(course_copy, capsys):
    assert cli.main(["--curso", str(course_copy), "publicar", "99_no_existe"]) == 1
    assert "No existe el laboratorio «99_no_existe»" in capsys.readouterr().err


def test_check_detects_a_stale_release(course_copy, capsys):
    assert cli.main(["--curso", str(course_copy), "comprobar"]) == 0
    notebook = next((course_copy / "source").glob("*/*.ipynb"))
    text = notebook.read_text(encoding="utf-8").replace("Objetivos", "Metas", 1)
    notebook.write_text(text, encoding="utf-8")
    assert cli.main(["--curso", str(course_copy), "comprobar"]) == 1
    assert "desactualizado en release/" in capsys.readouterr().out


def test_grading_with_no_submissions(course_copy, capsys):
    assert cli.main(["--curso", str(course_copy), "calificar"]) == 0
    assert "No hay entregas" in capsys.readouterr().out


def test_broken_submissions_are_explained_and_do_not_stop_the_batch(tmp_path, offline_data):
    """Un cuaderno vacío o con JSON roto se informa en español; los demás se califican."""
    from curso_pytorch import gradebook, grading, publish, submissions

    root = tmp_path / "curso"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / "01_tensores", root / "source" / "01_tensores")
    publish.publish(root, "01_tensores")
    name = "01_tensores.ipynb"
    reference = submissions.reference_notebook(root, "01_tensores", name)
    for student in ("bueno", "roto", "vacio"):
        submissions.submit(root, "01_tensores", student, {name: reference})
    (root / "submitted/roto/01_tensores" / name).write_text('{"cells": [ esto no es json')
    (root / "submitted/vacio/01_tensores" / name).write_text("")
    outcomes = {o.student: o for o in grading.grade(root, report=lambda line: None)}
    assert outcomes["bueno"].ok
    assert "no es JSON válido" in outcomes["roto"].message
    assert "está vacío" in outcomes["vacio"].message
    scores = gradebook.cell_scores(root, "01_tensores", "bueno")
    assert sum(s[0] for s in scores.values()) == 12
