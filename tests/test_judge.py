"""El juez por piezas, sin núcleos: qué llega al núcleo, cómo se leen los datos de la sonda, qué
código cuenta como escrito por el alumno y qué se le prohíbe. Las entregas hostiles completas
(calificadas de verdad) están en ``tests/test_lab01_tensores.py`` (``ATTACKS``) y
``tests/test_sandbox.py``."""

from __future__ import annotations

import os
import pickle

import nbformat
import pytest
import torch

from curso_pytorch import course, judge, probe, student_code
from curso_pytorch.course import labs
from tests.grading import NO_NETWORK, REPO

CELL = """from curso_pytorch.checks import check
with check("visible"):
    assert f(1) == 2
### BEGIN HIDDEN TESTS
_probe.call("uno", f, 1)
### JUEZ
with check("oculta"):
    assert data["uno"] == 2
### END HIDDEN TESTS
print("fin")
"""


def test_only_visible_checks_and_probe_reach_the_kernel():
    kernel, verdict = course.split_judge(CELL)
    assert '_probe.call("uno", f, 1)' in kernel and 'print("fin")' in kernel
    assert "data[" not in kernel and "### JUEZ" not in kernel
    assert verdict.strip().startswith('with check("oculta")') and "print" not in verdict
    assert course.split_judge("x = 1\n### BEGIN HIDDEN TESTS\ny = 2\n### END HIDDEN TESTS\n")[1] == ""


def test_no_judge_code_in_what_students_get():
    for lab in labs(REPO):
        for path in (REPO / "release" / lab).glob("*.ipynb"):
            text = path.read_text(encoding="utf-8")
            assert course.JUDGE_MARK not in text and "forbid(" not in text, path


def test_probe_data_is_read_safely(tmp_path):
    probe.start(str(tmp_path))
    probe.record("bueno", {"w": torch.ones(2), "n": 3, "xs": [1.5, None, "a"]})
    probe.call("falla", lambda: 1 / 0)
    probe.call("objeto", lambda: object())
    (tmp_path / "enlace.pt").symlink_to(tmp_path / "bueno.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ejecutado"),))

    (tmp_path / "pickle.pt").write_bytes(pickle.dumps(Evil()))
    with open(tmp_path / "grande.pt", "wb") as handle:
        handle.truncate(judge.MAX_FILE_BYTES + 1)
    values = judge.read_outbox(tmp_path)
    data = judge.Data(values)
    assert torch.equal(data["bueno"]["w"], torch.ones(2)) and data["bueno"]["xs"] == [1.5, None, "a"]
    assert data["objeto"] == "<objeto object>"
    for key, why in (("falla", "ZeroDivisionError"), ("enlace", "enlace"), ("pickle", "solo tensores"),
                     ("grande", "más de lo permitido"), ("nada", "no llegaron")):
        with pytest.raises(judge.CheckFailed, match=why):
            data[key]
    assert not (tmp_path / "ejecutado").exists(), "se ejecutó código del alumno al leer sus datos"


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        if meta:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


ANSWER = {"grade_id": "softmax", "solution": True, "grade": False}
TEST = {"grade_id": "test_softmax", "solution": False, "grade": True, "points": 1}


def test_student_statements_are_the_new_or_changed_ones():
    release = _notebook(("import torch\nx = torch.ones(3)\n%matplotlib inline", None),
                        ("def softmax(z):\n    raise NotImplementedError", ANSWER), ("assert True", TEST))
    submitted = _notebook(("import torch\nx = torch.ones(3)\n%matplotlib inline\ny = x.softmax(0)", None),
                          ("def softmax(z):\n    return z", ANSWER), ("assert True", TEST),
                          ("!ls /", None), ("no es python (", None))
    found = [(s.cell, s.answer, s.text) for s in student_code.student_statements(submitted, release)]
    assert found == [(0, None, "y = x.softmax(0)"), (1, "softmax", "def softmax(z):\n    return z"),
                     (3, None, "get_ipython().system('ls /')")]


@pytest.mark.parametrize("source, flagged", [
    ("exec('x = 1')", "«exec»"), ("eval('1')", "«eval»"), ("compile('1', 'a', 'eval')", "«compile»"),
    ("__import__('os')", "«__import__»"), ("import importlib", "importlib"), ("import base64", "base64"),
    ("from codecs import decode", "codecs"), ("import marshal", "marshal"),
    ("getattr(torch, 'soft' + 'max')", "nombre calculado"), ("f.__globals__['x'] = 1", "__globals__"),
    ("get_ipython().input_transformers_post.append(f)", "input_transformers_post"),
    ("get_ipython().system('ls')", "system"), ("import sys\nsys.settrace(None)", "settrace"),
    ("import sys as s", "otro nombre"), ("from sys import modules", "sys.modules"),
    ("model.eval()", None), ("torch.compile(model)", None), ("getattr(model, 'weight')", None),
    ("list(model.modules())", None), ("import os\nos.path.join('a', 'b')", None),
])
def test_hidden_code_is_flagged(source, flagged):
    found = [student_code.hiding(node) for node in __import__("ast").parse(source).body]
    found = next((f for f in found if f), None)
    if flagged is None:
        assert found is None, found
    else:
        assert found is not None and flagged in found, found


def test_forbidden_names_in_the_answer_aliases_and_hooks():
    release = _notebook(("import torch\nimport torch.nn.functional as F\np = F.softmax(torch.ones(2), 0)", None),
                        ("def softmax(z):\n    raise NotImplementedError", ANSWER),
                        ("def other(z):\n    raise NotImplementedError", {**ANSWER, "grade_id": "other"}))

    def uses(*cells):
        statements = student_code.student_statements(_notebook(*cells), release)
        return student_code.forbidden_uses(statements, "softmax", ("softmax",), answer_only=("F",))

    lesson = ("import torch\nimport torch.nn.functional as F\np = F.softmax(torch.ones(2), 0)", None)
    assert uses(lesson, ("def softmax(z):\n    e = z.exp()\n    return e / e.sum()", ANSWER)) == []
    assert "tu respuesta usa «softmax»" in uses(lesson, ("def softmax(z):\n    return torch.softmax(z, 1)", ANSWER))[0]
    assert "«F»" in uses(lesson, ("def softmax(z):\n    return F.relu(z)", ANSWER))[0]
    alias = uses(lesson, ("sm = torch.softmax", None), ("def softmax(z):\n    return sm(z, 1)", ANSWER))
    assert len(alias) == 1 and "la celda 2" in alias[0] and "revise a mano" in alias[0]
    # Llamar a otra respuesta propia está permitido (se juzga con las reglas de su ejercicio).
    assert uses(lesson, ("def softmax(z):\n    return other(z)", ANSWER),
                ("def other(z):\n    return torch.softmax(z, 1)", {**ANSWER, "grade_id": "other"})) == []


def test_references_are_computed_once_per_machine(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(3.0)}

    first = judge.References(tmp_path).get(("lab", "celda", "ref"), compute)
    again = judge.References(tmp_path).get(("lab", "celda", "ref"), compute)  # otro proceso: del disco
    other = judge.References(tmp_path).get(("lab", "celda", "otra"), compute)
    assert calls == [1, 1] and torch.equal(first["w"], again["w"]) and torch.equal(other["w"], first["w"])


def test_judge_failures_are_reasons_not_crashes():
    verdict = judge.Judge("lab", [], judge.References(None))
    assert verdict.run("c", 'with check("algo"):\n    close(data["x"], torch.ones(2))\n', {"x": torch.zeros(2)})
    assert verdict.run("c", 'with check("algo"):\n    close(data["x"], torch.ones(2))\n', {"x": torch.ones(2)}) is None
    assert "avise al profesor" in verdict.run("c", "1 / 0\n", {})


def test_missing_data_in_the_judge_stops_grading_instead_of_blaming_the_student(tmp_path, monkeypatch):
    """Sin los datos del juez (la caché de quien califica está vacía y no hay espejo ni red), la
    celda no sale como «tu código lanzó»: se para la calificación (``GradingSetupError``)."""
    from curso_pytorch import data

    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "vacia"))
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path / "sin_espejo"))
    for proxy, address in NO_NETWORK.items():
        monkeypatch.setenv(proxy, address)
    source = 'from curso_pytorch.data import load_mnist\nwith check("entrenamiento en MNIST"):\n    load_mnist("test")\n'
    with pytest.raises(course.GradingSetupError, match="No se califica: el juez de c no pudo leer los datos"):
        judge.Judge("lab", [], judge.References(None)).run("c", source, {})


def test_timing_magics_are_read_as_code():
    """%time y %%timeit no son código oculto: se lee el código que miden (con sus reglas)."""
    release = _notebook(("%matplotlib inline", None))
    submitted = _notebook(("%matplotlib inline\n%time y = torch.softmax(x, 1)", None), ("%%timeit\nz = x + 1", None),
                          ("%run otro.py", None))
    statements = student_code.student_statements(submitted, release)
    assert [s.text for s in statements] == ["y = torch.softmax(x, 1)", "z = x + 1",
                                            "get_ipython().run_line_magic('run', 'otro.py')"]
    assert student_code.obfuscation(statements[:2]) is None
    assert student_code.obfuscation(statements) == (2, "«.run_line_magic»")


def test_a_class_shares_one_reference_cache_beside_the_gradebook(tmp_path):
    """`curso calificar` da a cada entrega la caché del curso (junto al libro), no la de su carpeta
    temporal; un trabajador que no ve la carpeta del curso usa una de su máquina, fuera de la caja."""
    from curso_pytorch.autograde import Task, references_dir

    folder = tmp_path / "curso"
    folder.mkdir()
    task = Task("01_tensores", "ana", b"", {}, references_dir=str(folder / course.REFERENCES))
    assert references_dir(task) == str(folder / course.REFERENCES)
    elsewhere = Task("01_tensores", "ana", b"", {}, references_dir="/no/existe/curso/.referencias")
    assert references_dir(elsewhere).endswith("curso-referencias") and not references_dir(elsewhere).startswith("/no")


def test_links_left_by_the_student_in_the_probe_folder_are_not_followed(tmp_path):
    """El alumno puede cambiar la carpeta de la sonda por un enlace (a la carpeta de otro, a un
    archivo de la máquina): quien califica lo quita sin seguirlo y no lee nada a través de él."""
    workdir, elsewhere = tmp_path / "trabajo", tmp_path / "fuera"
    (elsewhere / "test_x").mkdir(parents=True)
    torch.save(torch.ones(1), elsewhere / "test_x" / "dato.pt")
    workdir.mkdir()
    (workdir / judge.PROBE_FOLDER).symlink_to(elsewhere)
    outbox = judge.fresh_outbox(workdir, "test_x")
    assert not (workdir / judge.PROBE_FOLDER).is_symlink() and (elsewhere / "test_x" / "dato.pt").exists()
    torch.save(torch.zeros(1), outbox.parent / "x.pt")
    (workdir / judge.PROBE_FOLDER / "test_x").symlink_to(elsewhere / "test_x")  # durante la celda
    assert judge.read_outbox(outbox, workdir) == {}
    (workdir / judge.PROBE_FOLDER / "test_x").unlink()
    (workdir / judge.PROBE_FOLDER).rename(workdir / "viejo")
    (workdir / judge.PROBE_FOLDER).symlink_to(elsewhere)  # la carpeta de todas las sondas, cambiada
    assert judge.read_outbox(workdir / judge.PROBE_FOLDER / "test_x", workdir) == {}


def test_optimizer_steps_compare_a_float32_run_with_its_float64_reference():
    """Los pasos de la sonda y del juez parten de las mismas entradas; el SGD de PyTorch en float32 cabe
    con holgura en la tolerancia frente a float64, y un momento distinto o un paso de más no."""
    from curso_pytorch.checks import CheckFailed, close_steps, optimizer_steps, step_count

    def make(**options):
        return lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, foreach=False, **options)

    ref = optimizer_steps(make(), steps=20, dtype=torch.float64)
    close_steps(optimizer_steps(make(), steps=20)["trayectoria"], ref["trayectoria"])
    with pytest.raises(CheckFailed, match="tras el paso 2 "):
        close_steps(optimizer_steps(make(dampening=0.1), steps=20)["trayectoria"], ref["trayectoria"])
    late = optimizer_steps(make(), steps=20, grad_from={0: None, 1: 5}, resume_at=10)
    assert not late["estado"][0] and "momentum_buffer" in late["estado"][1]
    close_steps(late["reanudada"], late["trayectoria"][10:], first=10, rtol=1e-6)
    assert [step_count(v) for v in (3, 3.0, torch.tensor(3.0), 2.5, "3", float("inf"), True)] == [3, 3, 3, None, None, None, None]


def test_every_graded_cell_of_every_lab_is_judged():
    """Los puntos de todas las celdas de pruebas de los siete laboratorios los decide el juez: cada
    una tiene su parte ``### JUEZ`` con código, y su sonda no contiene referencias del juez."""
    from curso_pytorch import course

    for lab in labs(REPO):
        nb = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
        for cell in nb.cells:
            if course.is_test_cell(cell):
                kernel, verdict = course.split_judge(cell.source)
                assert verdict.strip(), f"{lab}/{course.grade_id(cell)}: sin juez"
                assert "reference(" not in kernel and "forbid(" not in kernel, f"{lab}/{course.grade_id(cell)}"
