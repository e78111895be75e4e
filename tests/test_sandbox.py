"""Entregas hostiles o rotas: el corrector termina, el curso queda intacto, los alumnos honrados
del mismo lote conservan su nota y el hostil no gana ningún punto que no haya ganado honradamente.

Todas se califican en un solo lote del laboratorio 01 (2 procesos) junto a dos entregas honradas
(la solución de referencia). Cada hostil parte de la referencia con una ``softmax`` ingenua: pasa
las pruebas visibles pero da NaN con logits de ±1000, así que honradamente gana 10 de 12 puntos y
nunca los 2 de ``test_softmax``. Las manipulaciones intentan que las pruebas ocultas la acepten
(en el laboratorio 01 las decide el juez, fuera del núcleo: solo cambian los datos que le llegan).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from curso_pytorch import course, feedback, gradebook, grading, publish, sandbox, submissions

from tests import leaks
from tests.grading import REPO, variant_notebook

LAB = "01_tensores"
NB = f"{LAB}.ipynb"
TOTAL = 12
HONEST_MAX = 10  # la referencia con la softmax ingenua
NAIVE = "    e = torch.exp(logits)\n    return e / e.sum(dim=1, keepdim=True)\n"
WRONG_SOFTMAX = "def softmax(logits):\n" + NAIVE
HONEST = ("honesto_a", "honesto_b")


def softmax_with(body: str) -> str:
    """La softmax ingenua, que además ejecuta ``body`` al ser llamada."""
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"def softmax(logits):\n{indented}\n" + NAIVE


# Alumno -> (celda de código añadida tras la preparación, cuerpo extra de softmax, motivo esperado).
# El motivo esperado es un texto que debe aparecer en el motivo de test_softmax.
ATTACKS = {
    # Recursos
    "bucle_infinito": ("", "while True:\n    pass", "TiempoAgotado"),
    "dormir": ("", "import time\ntime.sleep(10**6)", "TiempoAgotado"),
    "os_exit": ("", "import os\nos._exit(3)", "NucleoDetenido"),
    "segfault_ctypes": ("", "import ctypes\nctypes.string_at(0)", "segmentación"),
    "segfault_senal": ("", "import faulthandler\nfaulthandler._sigsegv()", "segmentación"),
    "bomba_memoria_tensor": ("", "torch.empty(10**11)", ""),
    "bomba_memoria_lista": ("_basura = []\nwhile True:\n    _basura.append(bytearray(10**8))", "", ""),
    "bomba_fork": ("import os\nfor _ in range(100000):\n    try:\n        os.fork()\n    except OSError:\n        pass", "", ""),
    "megabytes_stdout": ("print('x' * 50_000_000)", "", ""),
    "spam_stderr": ("", "import sys\nsys.stderr.write('ruido\\n' * 100000)", ""),
    "nan": ("", "return torch.full_like(logits, float('nan'))", ""),
    "cuda_sin_gpu": ("", "logits = logits.cuda()", ""),
    "sys_exit": ("", "import sys\nsys.exit(0)", ""),
    # Red y archivos del curso ({curso} y {puerto} se rellenan con los reales)
    "red": ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', {puerto}), timeout=3).sendall(b'fuga')\n"
            "except OSError as e:\n    print('sin red', e)", "", ""),
    "escribir_fuera": ("for _p in ['{curso}/source/trampa.txt', '{curso}/trampa.txt', '/tmp/trampa_curso.txt']:\n"
                       "    try:\n        open(_p, 'w').write('x')\n    except OSError as e:\n        print(e)", "", ""),
    "borrar_curso": ("import shutil, os\nshutil.rmtree('{curso}/source', ignore_errors=True)\n"
                     "try:\n    os.remove('{curso}/nbgrader_config.py')\nexcept OSError as e:\n    print(e)", "", ""),
    "leer_source": ("_src = open('{curso}/source/01_tensores/01_tensores.ipynb').read()", "", ""),
    "abrir_libro": ("import sqlite3\n_db = sqlite3.connect('file:{curso}/gradebook.db?mode=rw', uri=True)\n"
                    "_db.execute('UPDATE grade SET auto_score = 100')\n_db.commit()", "", ""),
    # Manipulación de las pruebas
    "parchea_torch_softmax": ("torch.softmax = lambda x, dim=None, **k: softmax(x)", "", ""),
    "parchea_allclose": ("torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True", "", ""),
    "parchea_check": ("import contextlib, curso_pytorch.checks\n"
                      "@contextlib.contextmanager\ndef _nada(*a, **k):\n    try:\n        yield\n    except BaseException:\n        pass\n"
                      "curso_pytorch.checks.check = _nada", "", ""),
    "parchea_close": ("import curso_pytorch.checks\ncurso_pytorch.checks.close = lambda *a, **k: None", "", ""),
    "parchea_numpy_testing": ("import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None", "", ""),
    "parchea_builtins": ("import builtins\nbuiltins.bool = lambda x=False: False", "", ""),
    # Al ser llamada, su softmax desactiva las comparaciones de las pruebas (NaN y diferencias).
    "parchea_durante_prueba": ("", "torch.isfinite = lambda x: torch.ones_like(x, dtype=torch.bool)\n"
                               "torch.Tensor.__gt__ = lambda self, other: torch.zeros((), dtype=torch.bool)", "NaN"),
    "parchea_semilla": ("torch.manual_seed = lambda s: torch.default_generator\nimport random\nrandom.seed = lambda *a: None", "", ""),
    "parchea_sys_exit": ("import sys\nsys.exit = lambda *a: None", "", ""),
    # Lo que hace quien califica fuera de la caja ({objetivo}: un archivo de la máquina)
    "enlace_al_anfitrion": ("import os\nos.remove('01_tensores.ipynb')\nos.symlink('{objetivo}', '01_tensores.ipynb')",
                            "", ""),
    "html_hostil": ("from IPython.display import HTML, display\n"
                    "display(HTML('<script>window.robado = 1</script><img src=x onerror=\"window.robado = 2\">'))",
                    "", ""),
    "error_enorme": ("", "raise ValueError('x' * 10_000_000)", "ValueError"),
}


def _edit_cells(nb, edit):
    nb = copy.deepcopy(nb)
    edit(nb)
    return nb


def _test_cells(nb):
    return [c for c in nb.cells if course.is_test_cell(c)]


def _edited(nb):
    for c in _test_cells(nb):
        c.source = "pass"


def _deleted(nb):
    nb.cells = [c for c in nb.cells if c not in _test_cells(nb)]


def _duplicated(nb):
    first = _test_cells(nb)[1]
    nb.cells.insert(nb.cells.index(first), copy.deepcopy(first))


def _reordered(nb):
    tests = _test_cells(nb)
    rest = [c for c in nb.cells if c not in tests]
    nb.cells = rest[:3] + tests + rest[3:]


def _hostile_markdown(nb):
    nb.cells.insert(2, nbformat.v4.new_markdown_cell(
        '<script>window.robado = 3</script>\n\n<img src="x" onerror="window.robado = 4"> texto'))


def _metadata(nb):
    for c in _test_cells(nb):
        c.metadata["nbgrader"]["points"] = 100
        c.metadata["nbgrader"]["grade_id"] += "_falso"
        c.id = "cambiado-" + c.id[:10]


# Alumno -> edición del cuaderno (sobre la referencia con softmax mal resuelta).
NOTEBOOK_EDITS = {
    "celdas_prueba_editadas": _edited,
    "celdas_prueba_borradas": _deleted,
    "celdas_prueba_duplicadas": _duplicated,
    "celdas_reordenadas": _reordered,
    "ids_y_metadatos_cambiados": _metadata,
    "markdown_hostil": _hostile_markdown,
}
# Alumno -> (archivos entregados, motivo esperado en el problema de la entrega).
BROKEN_FILES = {
    # Con un solo cuaderno de otro nombre se califica ese (tests/test_instructor.py); con dos, no.
    "cuadernos_renombrados": ({"copia.ipynb": None, "otra copia.ipynb": None}, "falta el cuaderno"),
    "json_invalido": ({NB: b'{"cells": [ esto no es json'}, "no es JSON válido"),
    "archivo_vacio": ({NB: b""}, "está vacío"),
}


def _tree_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for base in paths:
        for path in sorted(p for p in ([base] if base.is_file() else base.rglob("*")) if p.is_file()):
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


class _Listener:
    """Un servidor TCP en loopback fuera de la caja: anota cualquier conexión que llegue."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    if sandbox.bubblewrap_problem():
        pytest.fail(f"Esta prueba necesita bubblewrap: {sandbox.bubblewrap_problem()}")
    root = tmp_path_factory.mktemp("hostiles") / "curso"
    root.mkdir()
    config = (REPO / "nbgrader_config.py").read_text()
    # Límites cortos para que el lote no tarde: la referencia del laboratorio 01 cabe de sobra.
    config += "\nc.Execute.timeout = 15\nc.SafeExecute.notebook_seconds = 120\n"
    (root / "nbgrader_config.py").write_text(config)
    shutil.copytree(REPO / "source" / LAB, root / "source" / LAB)
    publish.publish(root, LAB)
    listener = _Listener()
    base = variant_notebook(root, LAB, {"softmax": WRONG_SOFTMAX})[NB]
    for student in HONEST:
        submissions.submit(root, LAB, student, variant_notebook(root, LAB, {}))
    target = tmp_path_factory.mktemp("anfitrion") / "archivo_del_anfitrion.txt"
    target.write_text("no tocar")
    fill = {"curso": str(root), "puerto": str(listener.port), "objetivo": str(target)}
    for student, (extra_cell, softmax_body, _) in ATTACKS.items():
        nb = variant_notebook(root, LAB, {"softmax": softmax_with(softmax_body) if softmax_body else WRONG_SOFTMAX})[NB]
        if extra_cell:
            code = extra_cell
            for key, value in fill.items():
                code = code.replace("{" + key + "}", value)
            nb.cells.insert(3, nbformat.v4.new_code_cell(code))
        submissions.submit(root, LAB, student, {NB: nb})
    for student, edit in NOTEBOOK_EDITS.items():
        submissions.submit(root, LAB, student, {NB: _edit_cells(base, edit)})
    for student, (files, _) in BROKEN_FILES.items():
        folder = submissions.submit(root, LAB, student, {})
        for name, content in files.items():
            if content is None:
                nbformat.write(base, folder / name)
            else:
                (folder / name).write_bytes(content)
    protected = [root / "source", root / "release", root / "nbgrader_config.py"]
    before = _tree_digest(*protected)
    lines = []
    outcomes = grading.grade(root, LAB, workers=2, report=lines.append)
    listener.close()
    yield {
        "root": root,
        "outcomes": {o.student: o for o in outcomes},
        "scores": {s: gradebook.cell_scores(root, LAB, s) for s in {o.student for o in outcomes}},
        "protected_before": before,
        "host_file": target,
        "protected_after": _tree_digest(*protected),
        "connections": listener.connections,
        "report": lines,
    }


HOSTILE = sorted([*ATTACKS, *NOTEBOOK_EDITS, *BROKEN_FILES])


def test_there_are_enough_hostile_submissions():
    assert len(HOSTILE) >= 25


def test_grader_finishes_and_records_everyone(batch):
    assert set(batch["outcomes"]) == {*HONEST, *HOSTILE}
    assert any(line.startswith("Resumen:") for line in batch["report"])
    for student in [*HONEST, *HOSTILE]:
        assert batch["scores"][student], f"{student}: sin nota en el libro de calificaciones"


def test_honest_students_keep_full_marks(batch):
    for student in HONEST:
        got = sum(s for s, _ in batch["scores"][student].values())
        assert got == TOTAL, f"{student}: {batch['scores'][student]}"


@pytest.mark.parametrize("student", HOSTILE)
def test_hostile_earns_nothing_dishonest(batch, student):
    scores = batch["scores"][student]
    assert sum(m for _, m in scores.values()) == TOTAL, "el máximo no puede cambiar"
    got = sum(s for s, _ in scores.values())
    assert got <= HONEST_MAX, f"{student} gana {got} > {HONEST_MAX}: {scores}"
    assert scores["test_softmax"][0] == 0, f"{student} gana puntos de softmax sin resolverla"
    outcome = batch["outcomes"][student]
    reasons = {c.grade_id: c.reason for c in outcome.result.cells}
    assert all(reasons[g] for g, (s, m) in scores.items() if s < m), f"celdas sin motivo: {reasons}"
    expected = ATTACKS.get(student, ("", "", ""))[2]
    if expected:
        assert expected in reasons["test_softmax"], reasons["test_softmax"]
    if student in BROKEN_FILES:
        assert BROKEN_FILES[student][1] in outcome.message


def test_course_files_gradebook_and_network_intact(batch):
    root = batch["root"]
    assert batch["host_file"].read_text() == "no tocar", "se escribió por un enlace del alumno"
    graded = root / "autograded" / "enlace_al_anfitrion" / LAB / NB
    assert graded.is_file() and not graded.is_symlink()
    assert batch["protected_before"] == batch["protected_after"], "se modificaron archivos del curso"
    assert not (root / "trampa.txt").exists() and not Path("/tmp/trampa_curso.txt").exists()
    assert batch["connections"] == 0, "un núcleo llegó a la red"


def test_no_hidden_code_in_what_students_receive(batch):
    root = batch["root"]
    assert feedback.feedback(root, LAB) >= len(HONEST) + len(ATTACKS)
    hidden = leaks.hidden_test_snippets(root, LAB)
    for html in (root / "feedback").rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{html}: {leaked[:3]}"


def test_feedback_has_no_script_from_students(batch):
    root = batch["root"]
    assert feedback.feedback(root, LAB, "html_hostil") == 1 and feedback.feedback(root, LAB, "markdown_hostil") == 1
    for student in ("html_hostil", "markdown_hostil"):
        page = (root / "feedback" / student / LAB / f"{LAB}.html").read_text(encoding="utf-8")
        assert _active_html(page, "window.robado") == [], student


def _active_html(page: str, payload: str) -> list[str]:
    """Las etiquetas ``<script>`` y atributos ``on...`` de ``page`` que llevan ``payload`` (como
    texto escapado, el código del alumno es inofensivo)."""
    from html.parser import HTMLParser

    found = []

    class Finder(HTMLParser):
        script = False

        def handle_starttag(self, tag, attrs):
            self.script = tag == "script"
            found.extend(f"{tag} {name}" for name, value in attrs
                         if name.startswith("on") and payload in (value or ""))

        def handle_data(self, data):
            if self.script and payload in data:
                found.append("script")

    Finder().feed(page)
    return found


def test_error_output_is_capped(batch):
    nb = batch["root"] / "autograded" / "error_enorme" / LAB / NB
    assert nb.stat().st_size < 1_000_000
    reasons = {c.grade_id: c.reason for c in batch["outcomes"]["error_enorme"].result.cells}
    assert len(reasons["test_softmax"]) < 2_500


def test_output_is_capped(batch):
    nb = batch["root"] / "autograded" / "megabytes_stdout" / LAB / NB
    assert nb.stat().st_size < 2_000_000
    assert "salida recortada" in nb.read_text(encoding="utf-8")


def test_reasons_are_saved_for_the_instructor(batch):
    saved = json.loads((batch["root"] / "autograded" / "os_exit" / LAB / ".motivos.json").read_text())
    assert any("NucleoDetenido" in c["reason"] for c in saved["celdas"])


def test_validation_agrees_with_grading(batch):
    """Lo que ve el alumno con «Validate» coincide con la calificación: la referencia valida sin
    fallos (y saca 12/12 en el lote); en la copia en blanco fallan las celdas de pruebas con parte
    visible, y solo celdas de pruebas (las dos de entrenamiento solo tienen parte oculta)."""
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    root = batch["root"]
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    validator = Validator(config=config)
    reference = validator.validate(str(root / "submitted" / HONEST[0] / LAB / NB))
    assert not reference, reference
    blank = validator.validate(str(root / "release" / LAB / NB))
    release = nbformat.read(root / "release" / LAB / NB, as_version=4)
    tests = {c.source.strip() for c in _test_cells(release)}
    failed = [cell["source"] for cell in blank.get("failed", [])]
    assert len(failed) == 4 and all(source in tests for source in failed), failed


def test_kernel_threads_follow_the_quota_and_never_exceed_what_the_grader_asked(monkeypatch):
    """Con cuota de CPU, tantos hilos como núcleos de la cuota; si quien califica pidió menos
    (``OMP_NUM_THREADS``, como estas pruebas), esos: más hilos que núcleos libres hacen los pasos
    pequeños varias veces más lentos (el laboratorio 05, unas 5 veces en la máquina de CI)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert sandbox.thread_variables(sandbox.Limits(cpus=0)) == {}
    assert sandbox.thread_variables(sandbox.Limits(cpus=4))["OMP_NUM_THREADS"] == "4"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert sandbox.thread_variables(sandbox.Limits(cpus=4)) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
