"""Preguntas para pensar: cada sección de un laboratorio termina con 3 a 5 preguntas sin nota, y sus
respuestas comentadas viven en ``soluciones/<lab>.ipynb`` (ni en ``release/`` ni en ``source/<lab>/``,
que nbgrader copia al alumno); ``curso soluciones LAB`` las publica después de la fecha límite."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from curso_pytorch import cli, course, gradebook, publish

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import colab_badges  # noqa: E402

#: Los laboratorios que tienen sus preguntas y sus soluciones comentadas (hoy, todos).
LABS_WITH_PRACTICE = ["01_tensores", "02_modulos", "03_entrenamiento", "04_perdidas", "05_optimizadores",
                      "06_metricas", "07_tensorboard"]

SECTION = re.compile(r"^## (\d+)\. (.+)$", re.M)
ANY_SECTION = re.compile(r"^## ", re.M)
NOT_PRACTICED = ("Ejercicio", "Pruebas", "Resumen")
QUESTIONS_TITLE = "#### Preguntas para pensar"
QUESTION = re.compile(r"^- \*\*P(\d+)\.(\d+)\.\*\* ", re.M)
ANSWER_HEAD = re.compile(r"^\*\*P(\d+)\.(\d+)\.\*\* ")
ANSWER = "**Respuesta.**"


def _norm(text: str) -> str:
    return " ".join(text.split())


def sections(nb) -> list[tuple[int, str, list]]:
    """Las secciones con práctica de un laboratorio: (número, título, celdas), desde su encabezado
    hasta el siguiente encabezado de nivel 2."""
    found, current = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and ANY_SECTION.search(cell.source):
            match = SECTION.search(cell.source)
            current = None
            if match and int(match.group(1)) > 0 and not match.group(2).startswith(NOT_PRACTICED):
                current = (int(match.group(1)), match.group(2), [])
                found.append(current)
        if current is not None:
            current[2].append(cell)
    return found


def lab_questions(nb) -> dict[tuple[int, int], str]:
    """Las preguntas de las celdas «Preguntas para pensar» de un laboratorio: (sección, n) -> texto."""
    questions = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith(QUESTIONS_TITLE):
            parts = QUESTION.split(cell.source)[1:]
            for section, number, text in zip(parts[0::3], parts[1::3], parts[2::3]):
                questions[int(section), int(number)] = _norm(text)
    return questions


def companion_answers(nb) -> dict[tuple[int, int], tuple[str, str]]:
    """(sección, n) -> (texto de la pregunta, respuesta) en las soluciones comentadas."""
    answers = {}
    for cell in nb.cells:
        match = ANSWER_HEAD.match(cell.source) if cell.cell_type == "markdown" else None
        if match:
            question, _, answer = cell.source[match.end():].partition(ANSWER)
            answers[int(match.group(1)), int(match.group(2))] = (_norm(question), answer.strip())
    return answers


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _lab(lab):
    return _read(REPO / "source" / lab / f"{lab}.ipynb")


# --------------------------------------------------------------------------- contenido


def test_listed_labs_exist_and_have_a_companion():
    assert set(LABS_WITH_PRACTICE) == set(course.labs(REPO)), "cada laboratorio lleva sus preguntas y soluciones"
    for lab in LABS_WITH_PRACTICE:
        assert publish.solutions_notebook(REPO, lab).is_file(), f"faltan soluciones/{lab}.ipynb"
    companions = {p.stem for p in (REPO / publish.SOLUTIONS_DIR).glob("*.ipynb")}
    assert companions <= set(LABS_WITH_PRACTICE), f"soluciones sin declarar: {companions - set(LABS_WITH_PRACTICE)}"


@pytest.mark.parametrize("lab", LABS_WITH_PRACTICE)
def test_every_section_ends_with_three_to_five_questions(lab):
    nb = _lab(lab)
    found = sections(nb)
    assert len(found) >= 3, f"{lab}: no encuentro las secciones «## N. Título»"
    problems = []
    for number, title, cells in found:
        last = cells[-1]
        if last.cell_type != "markdown" or not last.source.startswith(QUESTIONS_TITLE):
            problems.append(f"§{number} «{title}»: no termina con «{QUESTIONS_TITLE[5:]}»")
            continue
        if last.get("metadata", {}).get("nbgrader"):
            problems.append(f"§{number}: la celda de preguntas no debe llevar metadatos de nbgrader")
        numbers = [(int(s), int(n)) for s, n in QUESTION.findall(last.source)]
        expected = [(number, k) for k in range(1, len(numbers) + 1)]
        if not 3 <= len(numbers) <= 5 or numbers != expected:
            problems.append(f"§{number}: preguntas {numbers}; se esperan 3 a 5, numeradas P{number}.1, P{number}.2…")
        if sum(c.source.startswith(QUESTIONS_TITLE) for c in cells if c.cell_type == "markdown") != 1:
            problems.append(f"§{number}: más de una celda de preguntas")
    assert not problems, f"{lab}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lab", LABS_WITH_PRACTICE)
def test_every_question_is_answered_in_the_companion(lab):
    asked = lab_questions(_lab(lab))
    answered = companion_answers(_read(publish.solutions_notebook(REPO, lab)))
    assert asked, f"{lab}: sin preguntas"
    missing = sorted(set(asked) - set(answered))
    extra = sorted(set(answered) - set(asked))
    assert not missing and not extra, f"{lab}: sin respuesta {missing}; respuestas sin pregunta {extra}"
    for key, text in asked.items():
        question, answer = answered[key]
        assert question == text, f"{lab} P{key[0]}.{key[1]}: la pregunta difiere del laboratorio:\n{question}\n{text}"
        assert len(answer) >= 80, f"{lab} P{key[0]}.{key[1]}: la respuesta es demasiado corta"


@pytest.mark.parametrize("lab", LABS_WITH_PRACTICE)
def test_answers_stay_out_of_what_students_get(lab):
    """Ni release/ ni source/<lab>/ (que nbgrader copia al alumno) contienen las respuestas."""
    answers = [a for _, a in companion_answers(_read(publish.solutions_notebook(REPO, lab))).values()]
    copied = [p for p in (REPO / "source" / lab).rglob("*") if p.is_file()]
    copied += [p for p in (REPO / "release" / lab).rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in copied)
    for path in copied:
        if path.suffix == ".ipynb":
            text = _norm("\n".join(c.source for c in _read(path).cells))
        else:
            text = _norm(path.read_text(encoding="utf-8", errors="ignore"))
        for answer in answers:
            assert _norm(answer)[:120] not in text, f"{path.relative_to(REPO)} contiene una respuesta"


@pytest.mark.parametrize("lab", LABS_WITH_PRACTICE)
def test_companion_shape(lab):
    nb = _read(publish.solutions_notebook(REPO, lab))
    title = _lab(lab).cells[0].source.splitlines()[0]
    assert nb.cells[0].source.startswith(f"# Soluciones comentadas — {title[2:]}")
    setup = next(c for c in nb.cells if c.cell_type == "code").source
    assert setup.startswith(colab_badges.setup_block(REPO)) and "device = setup(seed=0)" in setup


def test_the_question_parser_sees_a_missing_question(tmp_path):
    nb = _lab(LABS_WITH_PRACTICE[0])
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(QUESTIONS_TITLE))
    before = len(lab_questions(nb))
    cell.source = QUESTION.split(cell.source, maxsplit=1)[0]
    assert len(lab_questions(nb)) < before


@pytest.mark.parametrize("lab", LABS_WITH_PRACTICE)
def test_companion_runs(lab, tmp_path, monkeypatch, record_property):
    """Las celdas de código de las soluciones se ejecutan sin errores ni stderr, y deprisa."""
    from nbclient import NotebookClient

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = _read(publish.solutions_notebook(REPO, lab))
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    record_property("segundos", round(time.perf_counter() - start, 1))
    stderr = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr


# --------------------------------------------------------------------------- la orden


def _set_due(root: Path, lab: str, due):
    gradebook.set_due_date(course.db_url(root), lab, due)


def test_publish_refuses_before_the_due_date_and_forces(course_copy, capsys):
    lab = LABS_WITH_PRACTICE[0]
    (course_copy / "soluciones").mkdir()
    (course_copy / "soluciones" / f"{lab}.ipynb").write_bytes(publish.solutions_notebook(REPO, lab).read_bytes())
    target = course_copy / "publicado" / "soluciones" / f"{lab}.ipynb"
    _set_due(course_copy, lab, publish.utc_now() + dt.timedelta(days=2))
    assert cli.main(["--curso", str(course_copy), "soluciones", lab]) == 1
    err = capsys.readouterr().err
    assert "Aún no ha pasado la fecha límite" in err and "--forzar" in err and "Traceback" not in err
    assert not target.exists()
    assert cli.main(["--curso", str(course_copy), "soluciones", lab, "--forzar"]) == 0
    assert "antes de la fecha límite" in capsys.readouterr().out and target.is_file()
    target.unlink()
    _set_due(course_copy, lab, publish.utc_now() - dt.timedelta(hours=1))
    assert cli.main(["--curso", str(course_copy), "soluciones", lab]) == 0
    assert "publicadas en publicado/soluciones" in capsys.readouterr().out
    published = _read(target)
    assert companion_answers(published) == companion_answers(_read(publish.solutions_notebook(REPO, lab)))
    assert all(not c.get("outputs") for c in published.cells if c.cell_type == "code")


def test_publish_without_due_date_says_so(course_copy, capsys):
    lab = LABS_WITH_PRACTICE[0]
    (course_copy / "soluciones").mkdir()
    (course_copy / "soluciones" / f"{lab}.ipynb").write_bytes(publish.solutions_notebook(REPO, lab).read_bytes())
    assert cli.main(["--curso", str(course_copy), "soluciones", lab]) == 0
    assert "no tiene fecha límite" in capsys.readouterr().out


def test_publish_refuses_bad_input(course_copy, capsys):
    assert cli.main(["--curso", str(course_copy), "soluciones", "01_tensore"]) == 1
    err = capsys.readouterr().err
    assert "No existe el laboratorio «01_tensore»" in err and "¿Quería decir «01_tensores»?" in err
    assert "02_modulos" in err and "Traceback" not in err
    # Un laboratorio sin soluciones comentadas (la copia del curso no trae soluciones/).
    assert cli.main(["--curso", str(course_copy), "soluciones", "01_tensores"]) == 1
    assert "no tiene soluciones comentadas" in capsys.readouterr().err
    out = subprocess.run([sys.executable, "-m", "curso_pytorch", "--curso", str(course_copy), "soluciones"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "faltan estos argumentos: lab" in out.stderr
