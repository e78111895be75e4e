"""Qué celdas de la lección se saltan al calificar (``curso_pytorch.lesson_cells``).

Una celda solo se salta si es de la lección tal cual y nada de lo que se ejecuta después puede
notar su falta. Estas pruebas construyen cuadernos pequeños con cada caso; las pruebas de cada
laboratorio comprueban además que, con las celdas saltadas, la referencia sigue con todos los
puntos y cada error típico pierde exactamente los suyos.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from curso_pytorch import lesson_cells

SETUP = "import torch\ndevice = setup(seed=0)\nQUICK = is_grading()"
TEST = "assert answer(torch.ones(2)).shape == (2,)"


def _answer(source="def answer(x):\n    return x * 2"):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "answer", "locked": False}
    return cell


def _test(source=TEST):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_answer", "points": 1,
                                 "locked": True}
    return cell


def _plan(lesson: list[str], submitted: list[str] | None = None, answer=None, test=None):
    """Cuaderno: preparación, celdas de la lección, respuesta y prueba. ``submitted`` sustituye
    el texto entregado de las celdas de la lección (lo que cambió el alumno)."""
    def notebook(sources):
        return new_notebook(cells=[new_code_cell(SETUP), *(new_code_cell(s) for s in sources),
                                   answer or _answer(), test or _test()])

    release = notebook(lesson)
    nb = notebook(submitted if submitted is not None else lesson)
    skipped = lesson_cells.skippable(nbformat.from_dict(nb), nbformat.from_dict(release))
    return [i in skipped for i in range(1, 1 + len(lesson))]


def test_a_demonstration_nobody_needs_is_skipped():
    demo = "model = torch.nn.Linear(2, 2)\nfor epoch in range(3):\n    print(model(torch.ones(2)).sum())"
    assert _plan([demo]) == [True]


def test_setup_answers_and_tests_always_run():
    release = new_notebook(cells=[new_code_cell(SETUP), _answer(), _test()])
    assert lesson_cells.skippable(release, release) == set()


def test_a_chain_of_demonstrations_is_skipped_whole():
    assert _plan(["x = torch.randn(100, 2)", "y = x.sum(1)", "print(x.mean(), y.mean())"]) == [True, True, True]


def test_a_cell_whose_names_a_test_reads_runs():
    lesson = ["data = torch.ones(2)"]
    assert _plan(lesson, test=_test("assert answer(data).shape == (2,)")) == [False]


def test_a_cell_whose_names_a_student_answer_reads_runs():
    answer = _answer("def answer(x):\n    return x * scale")
    assert _plan(["scale = 2.0", "print('otra demo')"], answer=answer) == [False, True]


def test_an_edited_lesson_cell_runs():
    assert _plan(["print('lección')"], submitted=["print('lo cambió el alumno')"]) == [False]


def test_a_cell_that_may_modify_what_comes_later_runs():
    lesson = ["history = []", "history.append(1)", "train(model_a)", "for batch in loader:\n    pass"]
    test = _test("assert history and model_a and loader\n" + TEST)
    prepare = "model_a = torch.nn.Linear(2, 2)\nloader = iter([1, 2])\ntrain = lambda m: m.weight.data.zero_()"
    assert _plan([prepare, *lesson], test=test) == [False, False, False, False, False]


def test_calling_a_notebook_function_counts_what_the_function_touches():
    lesson = ["log = []\ndef remember(x):\n    log.append(x)", "remember(3)"]
    assert _plan(lesson, test=_test("assert log\n" + TEST)) == [False, False]


def test_reading_a_constant_is_not_modifying_it():
    demo = "x = torch.ones(3).to(device)\nsteps = 2 if QUICK else 10\nprint(x * steps)"
    assert _plan([demo], test=_test("assert str(device) and QUICK in (True, False)\n" + TEST)) == [True]


def test_a_later_cell_that_rebinds_a_name_does_not_need_the_earlier_one():
    lesson = ["model = torch.nn.Linear(2, 2)", "model = torch.nn.Linear(3, 3)\nprint(model)"]
    assert _plan(lesson, test=_test("for model in [1]:\n    pass\n" + TEST)) == [True, True]


def test_a_name_read_before_the_cell_rebinds_it_is_needed():
    lesson = ["model = torch.nn.Linear(2, 2)"]
    assert _plan(lesson, test=_test("print(model)\nmodel = None\n" + TEST)) == [False]


def test_what_cannot_be_analysed_runs_and_keeps_everything_before():
    lesson = ["print('demo')", "from math import *", "print('otra')"]
    assert _plan(lesson) == [True, False, True]
    assert _plan(["print('demo')", "def roto(:"]) == [False, False]


def test_magics_are_read_like_the_kernel_reads_them():
    assert _plan(["%matplotlib inline\nprint('demo')"]) == [True]


def test_a_local_name_inside_a_function_is_not_a_global_read():
    lesson = ["optimizer = 'demo'"]
    answer = _answer("def answer(x, optimizer=None):\n    optimizer = x\n    return optimizer * 2")
    assert _plan(lesson, answer=answer) == [True]


def test_the_plan_says_why_a_cell_runs():
    release = new_notebook(cells=[new_code_cell(SETUP), new_code_cell("data = torch.ones(2)"), _answer(),
                                  _test("assert answer(data).shape == (2,)")])
    plan = lesson_cells.plan(release, release)
    assert "data" in plan[1] and plan[1] != lesson_cells.SKIP


def test_a_name_that_a_running_cell_redefines_is_not_needed_from_before():
    answer = _answer("model = torch.nn.Linear(3, 3)\ndef answer(x):\n    return x * 2")
    assert _plan(["model = torch.nn.Linear(2, 2)"], answer=answer, test=_test("print(model)\n" + TEST)) == [True]


def test_preloaded_modules_are_those_of_the_cells_that_run():
    """El núcleo importa de antemano lo que importan las celdas que se ejecutan con la copia del
    alumno tal cual, no lo de una demostración que se salta (en el laboratorio 03, torchvision)."""
    release = new_notebook(cells=[
        new_code_cell("import numpy as np\nimport torch\n" + SETUP.split("\n", 1)[1]),
        new_code_cell("from torchvision.transforms import v2\nprint(v2.ToImage())"),
        new_code_cell("import torchmetrics\nmetric = torchmetrics.Accuracy(task='binary')"),
        _answer(), _test("print(metric)\n" + TEST),
    ])
    assert lesson_cells.course_imports(release) == ["numpy", "torch", "torchmetrics"]
    lab03 = nbformat.read(Path(__file__).resolve().parents[1] / "release" / "03_entrenamiento" / "03_entrenamiento.ipynb",
                          as_version=4)
    assert "torchvision.transforms" in {line.split()[1] for c in lab03.cells if c.cell_type == "code"
                                        for line in c.source.splitlines() if line.startswith("from ")}
    assert not [m for m in lesson_cells.course_imports(lab03) if m.startswith("torchvision")]
