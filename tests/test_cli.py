"""La línea de órdenes habla español y falla con mensajes claros."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from curso_pytorch import cli

REPO = Path(__file__).resolve().parents[1]


def test_help_is_in_spanish():
    out = subprocess.run([sys.executable, "-m", "curso_pytorch", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("uso:", "opciones", "publicar", "calificar", "retroalimentacion", "notas", "demo", "comprobar"):
        assert word in out.stdout
    assert "show this help" not in out.stdout


def test_unknown_command_is_explained_in_spanish():
    out = subprocess.run([sys.executable, "-m", "curso_pytorch", "corregir"], capture_output=True, text=True)
    assert out.returncode == 2 and "orden no válida" in out.stderr


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
