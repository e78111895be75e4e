"""Los caminos de un profesor nuevo no dejan a ningún alumno con un 0 que no es suyo: errores de
la línea de órdenes con su mensaje, datos que faltan, una copia del curso con su propio paquete,
carpetas y cuadernos mal nombrados, retroalimentación al día, exportación para Moodle y Canvas y
fechas límite."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from curso_pytorch import cli, course, gradebook, publish, submissions
from tests.grading import NO_NETWORK, REPO, variant_notebook

LAB = "01_tensores"
NB = f"{LAB}.ipynb"


def _course(root: Path, extra_config: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + extra_config)
    shutil.copytree(REPO / "source" / LAB, root / "source" / LAB)
    publish.publish(root, LAB)
    return root


def _curso(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curso_pytorch", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=900)


def _no_data_env(tmp_path: Path) -> dict:
    """Caché vacía, sin espejo y sin red (un proxy que no existe): no hay de dónde sacar datos."""
    env = dict(os.environ)
    env.update(CURSO_DATA_DIR=str(tmp_path / "cache_vacia"), CURSO_DATA_MIRROR=str(tmp_path / "sin_espejo"),
               **NO_NETWORK)
    return env


# --------------------------------------------------------------------------- línea de órdenes


@pytest.fixture(scope="module")
def small_course(tmp_path_factory):
    root = _course(tmp_path_factory.mktemp("ordenes") / "curso")
    submissions.submit(root, LAB, "ana", {NB: nbformat.read(root / "release" / LAB / NB, as_version=4)})
    return root


@pytest.mark.parametrize("verb", ["calificar", "retroalimentacion", "publicar"])
def test_unknown_lab_names_the_valid_ones(small_course, capsys, verb):
    assert cli.main(["--curso", str(small_course), verb, "01_tensore"]) == 1
    err = capsys.readouterr().err
    assert "No existe el laboratorio «01_tensore»" in err and "¿Quería decir «01_tensores»?" in err
    assert "Laboratorios: 01_tensores" in err and "Traceback" not in err


@pytest.mark.parametrize("verb", ["calificar", "retroalimentacion"])
def test_unknown_student_names_those_with_submissions(small_course, capsys, verb):
    assert cli.main(["--curso", str(small_course), verb, "--alumno", "berta"]) == 1
    err = capsys.readouterr().err
    assert "No hay entregas del alumno «berta»" in err and "Alumnos con entregas: ana" in err


def test_a_folder_that_is_not_a_course(tmp_path):
    run = _curso("--curso", str(tmp_path), "notas")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "no es una carpeta del curso" in run.stderr and "nbgrader_config.py" in run.stderr


def test_options_after_the_verb(small_course):
    parser = cli.build_parser()
    args = parser.parse_args(["calificar", "--curso", str(small_course), "--alumno", "ana", LAB])
    assert (args.curso, args.alumno, args.lab) == (str(small_course), "ana", LAB)
    assert parser.parse_args(["--curso", "x", "notas"]).curso == "x"


def test_check_ignores_checkpoints(small_course, capsys):
    """Abrir release/ en JupyterLab deja .ipynb_checkpoints: no es una publicación desactualizada."""
    checkpoints = small_course / "release" / LAB / ".ipynb_checkpoints"
    checkpoints.mkdir()
    shutil.copy(small_course / "release" / LAB / NB, checkpoints / f"{LAB}-checkpoint.ipynb")
    assert publish.stale_release(small_course) == []
    (small_course / "release" / LAB / "extra.txt").write_text("x")
    assert publish.stale_release(small_course) == [f"sobra en release/: {LAB}/extra.txt"]
    (small_course / "release" / LAB / "extra.txt").unlink()


def test_demo_sets_up_the_sandbox():
    """`make demo` instala bubblewrap (o dice cómo) antes de calificar, como en un curso real."""
    run = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True)
    lines = run.stdout.splitlines()
    sandbox = next(i for i, ln in enumerate(lines) if "paquetes_debian.sh bubblewrap" in ln)
    assert sandbox < next(i for i, ln in enumerate(lines) if "curso_pytorch demo" in ln)


# --------------------------------------------------------------------------- datos que faltan


def test_missing_data_stops_grading_before_any_grade(tmp_path):
    root = _course(tmp_path / "curso")
    reference = submissions.reference_notebook(root, LAB, NB)
    submissions.submit(root, LAB, "ana", {NB: reference})
    env = _no_data_env(tmp_path)
    # curso calificar: un mensaje, código distinto de 0 y ninguna nota.
    run = _curso("--curso", str(root), "calificar", env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "No se califica: faltan en la caché" in run.stderr and "Traceback" not in run.stderr
    assert not (root / "autograded" / "ana").exists()
    assert gradebook.grade_rows(root) == [] or all(r.score is None for r in gradebook.grade_rows(root))
    # nbgrader autograde a mano (o el botón del Formgrader): se para antes del núcleo, sin nota.
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", LAB],
                         cwd=root, capture_output=True, text=True, env=env, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode != 0 and "GradingSetupError: No se califica" in log, log[-2000:]
    assert "Executing notebook with kernel" not in log, "el núcleo no debe arrancar sin datos"
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url(root)) as gb:
        with pytest.raises(MissingEntry):
            gb.find_submission(LAB, "ana")


# --------------------------------------------------------------------------- copia del curso


def test_grading_from_a_course_copy_with_its_own_package(tmp_path, offline_data):
    """Una carpeta de curso copiada con su propio curso_pytorch/: el núcleo importa esa copia (la
    misma que quien califica), no la instalada, y la referencia saca todos los puntos."""
    root = _course(tmp_path / "copia")
    shutil.copytree(REPO / "curso_pytorch", root / "curso_pytorch", ignore=shutil.ignore_patterns("__pycache__"))
    submissions.submit(root, LAB, "ana", {NB: submissions.reference_notebook(root, LAB, NB)})
    run = subprocess.run([sys.executable, "-m", "curso_pytorch", "calificar", "--procesos", "1"], cwd=root,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    scores = gradebook.cell_scores(root, LAB, "ana")
    assert sum(s for s, _ in scores.values()) == 12, (scores, run.stdout[-2000:])


def test_grading_with_the_data_folder_of_the_course_and_no_network(tmp_path, offline_data):
    """Lo que hace un profesor: «curso datos» deja los datos en data/ del curso y se califica más
    tarde sin red, sin espejo y sin CURSO_DATA_DIR. El juez (que corre donde nbgrader pone la
    entrega, en una copia temporal del curso) lee esa misma caché: la referencia saca todos los
    puntos, con uno y con dos procesos."""
    from curso_pytorch import data

    root = _course(tmp_path / "curso")
    assert data.provision(("mnist",), root=root / "data") == {"mnist": "listo"}  # «curso datos», con el espejo
    shutil.copytree(offline_data["cifar_built"], root / "data" / data.CIFAR10_FOLDER, copy_function=os.link)
    for student in ("ana", "berta"):
        submissions.submit(root, LAB, student, {NB: submissions.reference_notebook(root, LAB, NB)})
    env = _no_data_env(tmp_path)
    for variable in ("CURSO_DATA_DIR", "CURSO_DATA_MIRROR"):
        env.pop(variable)
    for workers in ("1", "2"):
        run = _curso("calificar", "--procesos", workers, cwd=root, env=env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        for student in ("ana", "berta"):
            scores = gradebook.cell_scores(root, LAB, student)
            assert sum(s for s, _ in scores.values()) == 12, (workers, student, scores, run.stdout[-2000:])


# --------------------------------------------------------------------------- entregas mal nombradas


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    """Un lote con fecha límite (recargo «zero» de nbgrader): una entrega a tiempo, una tarde con el
    cuaderno renombrado, una sin cuaderno y una carpeta de laboratorio mal escrita."""
    root = _course(tmp_path_factory.mktemp("lote") / "curso", '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    now = datetime.now(timezone.utc)
    due = (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert cli.main(["--curso", str(root), "publicar", LAB, "--fecha-limite", due]) == 0
    reference = submissions.reference_notebook(root, LAB, NB)
    folder = submissions.submit(root, LAB, "a_tiempo", {NB: reference})
    (folder / "timestamp.txt").write_text((now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    submissions.submit(root, LAB, "tarde_renombrado", {f"{LAB} (1).ipynb": reference})
    (submissions.submit(root, LAB, "sin_cuaderno", {}) / "notas.txt").write_text("olvidé el cuaderno")
    submissions.submit(root, "01_tensore", "carpeta_mal", {NB: reference})
    ansi = "def softmax(logits):\n    raise ValueError('\\x1b[2J\\x1b[31mpantalla borrada')\n"
    folder = submissions.submit(root, LAB, "ansi", variant_notebook(root, LAB, {"softmax": ansi}))
    (folder / "timestamp.txt").write_text((now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    run = _curso("--curso", str(root), "calificar", "--procesos", "2")
    run_feedback = _curso("--curso", str(root), "retroalimentacion")
    return {"root": root, "run": run, "feedback": run_feedback}


def test_misnamed_lab_folder_is_reported_and_the_rest_graded(graded):
    out = graded["run"].stdout
    assert "submitted/carpeta_mal/01_tensore: «01_tensore» no es un laboratorio del curso" in out
    assert "¿quería decir «01_tensores»?" in out and graded["run"].returncode == 1
    students = {r.student for r in gradebook.grade_rows(graded["root"])}
    assert students == {"a_tiempo", "tarde_renombrado", "sin_cuaderno", "ansi"}


def test_terminal_gets_no_control_characters_from_students(graded):
    out = graded["run"].stdout
    assert "pantalla borrada" in out and "\x1b" not in out


def test_a_single_notebook_under_another_name_is_graded(graded):
    root = graded["root"]
    assert f"el cuaderno «{LAB} (1).ipynb» se califica como «{NB}»" in graded["run"].stdout
    cells = gradebook.cell_scores(root, LAB, "tarde_renombrado")
    assert sum(s for s, _ in cells.values()) == 12
    assert (root / "feedback" / "tarde_renombrado" / LAB / f"{LAB}.html").is_file()


def test_a_submission_without_notebook_gets_a_page_that_explains_its_zero(graded):
    out = graded["run"].stdout
    assert out.count("sin_cuaderno: falta el cuaderno") == 1, "el motivo se dice una vez, no por celda"
    page = (graded["root"] / "feedback" / "sin_cuaderno" / LAB / f"{LAB}.html").read_text(encoding="utf-8")
    assert "falta el cuaderno 01_tensores.ipynb (la entrega no trae ningún cuaderno)" in page
    assert f"<code>{NB}</code>" in page


def test_due_date_and_late_penalty_in_the_exports(graded):
    root = graded["root"]
    rows = {r.student: r for r in gradebook.grade_rows(root)}
    assert rows["a_tiempo"].score == 12 and rows["a_tiempo"].seconds_late == 0
    late = rows["tarde_renombrado"]
    assert late.seconds_late > 80_000 and late.penalty == 12 and late.score == 0
    assert cli.main(["--curso", str(root), "notas"]) == 0
    with open(root / "notas.csv", encoding="utf-8") as f:
        long = {r["alumno"]: r for r in csv.DictReader(f)}
    assert long["tarde_renombrado"]["puntos"] == "0" and long["tarde_renombrado"]["recargo"] == "12"


def test_wide_moodle_and_canvas_exports(graded):
    root = graded["root"]
    for layout in ("ancho", "moodle", "canvas"):
        assert cli.main(["--curso", str(root), "notas", "--formato", layout]) == 0
    with open(root / "notas_ancho.csv", encoding="utf-8") as f:
        wide = list(csv.reader(f))
    header, maxima, rows = wide[0], wide[1], {r[0]: dict(zip(wide[0], r)) for r in wide[2:]}
    test_cells = [c for c in header if c.startswith(f"{LAB}/test_")]
    assert len(test_cells) >= 4 and header[-1] == "total" and f"{LAB}/total" in header
    assert dict(zip(header, maxima))[f"{LAB}/total"] == "12"
    assert sum(float(rows["a_tiempo"][c]) for c in test_cells) == 12 and rows["a_tiempo"]["total"] == "12"
    assert rows["tarde_renombrado"][f"{LAB}/recargo"] == "12" and rows["tarde_renombrado"]["total"] == "0"
    with open(root / "notas_moodle.csv", encoding="utf-8") as f:
        moodle = list(csv.reader(f))
    assert moodle[0] == ["username", LAB] and ["a_tiempo", "12"] in moodle
    with open(root / "notas_canvas.csv", encoding="utf-8") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LAB]
    assert canvas[1] == ["Points Possible", "", "", "", "", "12"]
    assert ["a_tiempo", "", "", "a_tiempo", "", "12"] in canvas


def test_regrading_refreshes_old_feedback(graded):
    root = graded["root"]
    page = root / "feedback" / "a_tiempo" / LAB / f"{LAB}.html"
    before = page.stat().st_mtime
    time.sleep(1.1)
    run = _curso("--curso", str(root), "calificar", LAB, "--alumno", "a_tiempo", "--procesos", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Retroalimentación regenerada en feedback/ para 1 entrega(s) recalificada(s)" in run.stdout
    assert page.stat().st_mtime > before
