"""El núcleo de la entrega siguiente, arrancado de antemano (``SafeExecute.prestart_next``).

Cada proceso corrector arranca, en cuanto está listo el núcleo de una entrega, el de la siguiente
(en su propia caja, con torch importado, sin ejecutar nada de nadie). Solo se usa si la entrega
siguiente es del mismo laboratorio con los mismos límites y datos; si no, se tira. Al terminar no
queda ninguno vivo, y las notas son las mismas que arrancando cada núcleo al llegar su entrega.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from curso_pytorch import execute, gradebook, grading, publish, submissions
from tests.grading import REPO, variant_notebook

LABS = ("01_tensores", "04_perdidas")


def test_next_kernel_is_prestarted_used_once_and_cleaned_up(tmp_path, monkeypatch):
    root = tmp_path / "curso"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for lab in LABS:
        shutil.copytree(REPO / "source" / lab, root / "source" / lab)
        publish.publish(root, lab)
        for student in ("ana", "luis"):
            submissions.submit(root, lab, student, variant_notebook(root, lab, {}))
    taken, workdirs, kernels, shares = [], [], [], []
    take, make_workdir, prestart = execute._take_spare, execute.SafeExecute._workdir_for, execute.SafeExecute._prestart_next

    def recorded_take(key):
        spare = take(key)
        taken.append((key[0], spare is not None))
        if spare is not None:
            shares.append(("adoptado", cpu_shares(spare[0])))
        return spare

    def recorded_workdir(self, lab):
        workdirs.append(make_workdir(self, lab))
        return workdirs[-1]

    async def recorded_prestart(self):
        await prestart(self)
        if "núcleo" in execute._SPARE:
            kernels.append(execute._SPARE["núcleo"][1].provisioner.process)
            shares.append(("de reserva", cpu_shares(execute._SPARE["núcleo"][1])))

    monkeypatch.setattr(execute, "_take_spare", recorded_take)
    monkeypatch.setattr(execute.SafeExecute, "_workdir_for", recorded_workdir)
    monkeypatch.setattr(execute.SafeExecute, "_prestart_next", recorded_prestart)
    outcomes = grading.grade(root, report=lambda line: None)
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    for lab in LABS:
        for student in ("ana", "luis"):
            scores = gradebook.cell_scores(root, lab, student)
            assert all(s == m for s, m in scores.values()), (lab, student, scores)
    # Cuatro entregas: la 2.ª y la 4.ª usan el núcleo de reserva; la 3.ª (otro laboratorio) lo tira.
    assert taken == [(LABS[0], False), (LABS[0], True), (LABS[1], False), (LABS[1], True)]
    assert len(kernels) == 3  # nadie arranca uno para después de la última entrega
    assert execute._SPARE == {}
    assert all(k.poll() is not None for k in kernels), "queda vivo un núcleo de reserva"
    assert not [w for w in workdirs if w.exists()], "queda la carpeta de trabajo de un núcleo"
    # Con cgroups (quien califica es root), el núcleo de reserva arranca con la CPU que sobra y la
    # recupera toda al empezar su entrega: no frena al núcleo que está calificando.
    if any(value is not None for _, value in shares):
        assert shares == [("de reserva", "2"), ("adoptado", "1024"), ("de reserva", "2"),
                          ("de reserva", "2"), ("adoptado", "1024")], shares


def cpu_shares(km) -> str | None:
    """El peso de CPU del cgroup del núcleo (None sin cgroups de CPU)."""
    for folder in km.cgroups:
        path = Path(folder) / "cpu.shares"
        if path.is_file():
            return path.read_text().strip()
    return None


def test_sequential_scores_are_the_same_without_prestarting(tmp_path):
    """La misma entrega, con y sin núcleo de reserva: las mismas notas celda a celda."""
    root = tmp_path / "curso"
    root.mkdir()
    lab = LABS[0]
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / lab, root / "source" / lab)
    publish.publish(root, lab)
    wrong = {"softmax": [("return", "return 0 *")]}
    for student, changes in (("a", {}), ("b", wrong)):
        submissions.submit(root, lab, student, variant_notebook(root, lab, changes))
    grading.grade(root, lab, report=lambda line: None)
    first = {s: gradebook.cell_scores(root, lab, s) for s in "ab"}
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.SafeExecute.prestart_next = False\n")
    grading.grade(root, lab, report=lambda line: None)
    assert {s: gradebook.cell_scores(root, lab, s) for s in "ab"} == first
    assert first["b"]["test_softmax"][0] == 0 and all(s == m for s, m in first["a"].values())


def test_a_last_submission_that_breaks_leaves_no_spare_kernel(tmp_path, monkeypatch):
    """La última entrega del lote no llega a tomar el núcleo de reserva (su cuaderno es JSON roto):
    al terminar el lote no queda ninguno vivo para otro lote de este proceso."""
    root = tmp_path / "curso"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    lab = LABS[0]
    shutil.copytree(REPO / "source" / lab, root / "source" / lab)
    publish.publish(root, lab)
    folder = submissions.submit(root, lab, "ana", variant_notebook(root, lab, {}))
    broken = folder.parent.parent / "zoe" / lab
    broken.mkdir(parents=True)
    (broken / f"{lab}.ipynb").write_text('{"cells": [ esto no es json')
    started = []
    prestart = execute.SafeExecute._prestart_next

    async def recorded_prestart(self):
        await prestart(self)
        started.append(execute._SPARE.get("núcleo"))

    monkeypatch.setattr(execute.SafeExecute, "_prestart_next", recorded_prestart)
    outcomes = {o.student: o for o in grading.grade(root, lab, report=lambda line: None)}
    assert outcomes["ana"].ok and not outcomes["zoe"].ok
    assert started and started[0] is not None, "la primera entrega debía arrancar el núcleo de reserva"
    assert execute._SPARE == {}
    process = started[0][1].provisioner.process if started[0][1].provisioner else None
    assert process is None or process.poll() is not None, "queda vivo un núcleo de reserva"
