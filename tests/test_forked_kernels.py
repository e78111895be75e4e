"""Núcleos que nacen del proceso de origen (``curso_pytorch.forked_kernels``).

El núcleo nacido del proceso de origen debe quedar tan encerrado como el que arranca bubblewrap
(mismo usuario, sin capacidades, ``no_new_privs``, solo los procesos de su caja) y sin ningún
camino hacia el proceso de origen: ni verlo, ni mandarle señales, ni abrir la FIFO del guardián.
Cuando muere, la caja termina como terminaba con el núcleo de siempre (mismo código o señal), y
si el proceso de origen no puede servir, se arranca el núcleo de siempre. Las notas, iguales.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from curso_pytorch import forked_kernels, gradebook, grading, publish, sandbox, submissions
from tests.grading import REPO, variant_notebook

pytestmark = pytest.mark.skipif(sandbox.bubblewrap_problem() is not None, reason="sin bubblewrap")

PROBE = r"""
import json, os
status = {}
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    status[key] = value.split()
print(json.dumps({
    "caps": {k: status[k][0] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    "no_new_privs": status["NoNewPrivs"], "uid": status["Uid"], "gid": status["Gid"], "groups": status["Groups"],
    "pid": os.getpid(), "sid": os.getsid(0), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "runtime": sorted(os.listdir(RUNTIME)), "origin_visible": os.path.exists(ORIGIN_PROC),
    "hostname": os.uname().nodename, "env": {k: v for k, v in os.environ.items() if k != "PWD"},
}))
"""


async def _run(km, code: str, timeout: float = 60) -> str:
    """Ejecuta ``code`` en el núcleo de ``km`` y devuelve lo que imprimió."""
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        msg_id = client.execute(code)
        text = []
        while True:
            msg = await client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(text)
    finally:
        client.stop_channels()


def _kernel(tmp_path, name: str, fork: bool) -> sandbox.SandboxKernelManager:
    km = sandbox.SandboxKernelManager(kernel_name="python3")
    km.fork_kernels = fork
    (tmp_path / name).mkdir()
    km._test_workdir = tmp_path / name
    return km


async def _start(km) -> None:
    await km.start_kernel(cwd=str(km._test_workdir))


async def _stop(km) -> int | None:
    process = km.provisioner.process if km.provisioner else None
    await km.shutdown_kernel(now=True)
    km.release_sandbox()
    return process.returncode if process is not None else None


def test_a_forked_kernel_is_confined_like_the_classic_one(tmp_path):
    async def probe(fork: bool) -> tuple[bool, dict]:
        km = _kernel(tmp_path, f"fork-{fork}", fork)
        await _start(km)
        try:
            origin = forked_kernels._ORIGIN[0].process.pid if fork else os.getpid()
            code = PROBE.replace("RUNTIME", repr(str(km._runtime))).replace("ORIGIN_PROC", repr(f"/proc/{origin}"))
            return km.forked, json.loads(await _run(km, code))
        finally:
            await _stop(km)

    classic_forked, classic = asyncio.run(probe(False))
    forked, seen = asyncio.run(probe(True))
    assert forked and not classic_forked
    assert set(seen["caps"].values()) == {"0000000000000000"} == set(classic["caps"].values())
    assert seen["no_new_privs"] == classic["no_new_privs"] == ["1"]
    for key in ("uid", "gid", "groups", "hostname", "env"):
        assert seen[key] == classic[key], key  # el entorno: el de la caja (CURSO_DATA_DIR, HOME...)
    assert seen["uid"] == [str(sandbox.NOBODY)] * 4
    # Solo su caja: el init de bubblewrap, el guardián y el núcleo; ni el proceso de origen ni el intermedio.
    assert seen["pids"] == [1, 2, 3] and seen["pid"] == 3 and not seen["origin_visible"]
    assert seen["sid"] == seen["pid"]  # su propia sesión: kill(0, ...) no llega a nadie de fuera
    assert forked_kernels.HOLDER_FIFO not in seen["runtime"]  # la FIFO del guardián ya no existe


def test_the_holder_is_found_only_once_it_runs_its_own_command(tmp_path):
    """Antes de ``exec``, el hijo de bubblewrap también acaba su orden con la FIFO, pero no tiene el
    entorno de la caja (sin ``CURSO_DATA_DIR``, el núcleo buscaba los datos en su carpeta): solo
    cuenta el proceso cuya orden es exactamente la del guardián."""
    holder = forked_kernels.holder_command(tmp_path)
    impostor = [sys.executable, "-c", "import time; time.sleep(30)", holder[-1]]
    relay = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])"]
    parent = subprocess.Popen([*relay, *relay, *impostor])  # bwrap → su hijo → el impostor, como en la caja
    try:
        with pytest.raises(forked_kernels.ForkError):
            forked_kernels.find_holder(parent.pid, holder, seconds=1.5)
    finally:
        parent.kill()
        parent.wait()


def test_the_box_ends_as_the_kernel_ended_and_the_origin_survives(tmp_path):
    """``os._exit(3)``, una violación de segmento y ``kill(0, SIGKILL)`` (el grupo de procesos
    entero): la caja termina igual que con el núcleo de siempre (el mismo código o la misma señal),
    y el proceso de origen sigue vivo y da el núcleo siguiente."""
    endings = {"codigo": "import os\nos._exit(3)",
               "segmento": "import ctypes\nctypes.string_at(0)",
               "grupo": "import os, signal\nos.kill(0, signal.SIGKILL)"}

    async def ending(code: str, fork: bool) -> int:
        km = _kernel(tmp_path, f"{len(os.listdir(tmp_path))}", fork)
        await _start(km)
        assert km.forked == fork
        client = km.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        client.execute(code)
        process = km.provisioner.process
        for _ in range(200):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        client.stop_channels()
        await _stop(km)
        return ended(process.returncode)

    for name, code in endings.items():
        classic = asyncio.run(ending(code, False))
        forked = asyncio.run(ending(code, True))
        assert forked == classic, (name, forked, classic)
        assert forked_kernels._ORIGIN and forked_kernels._ORIGIN[0].process.poll() is None, name
    assert classic == ("señal", signal.SIGKILL)


def ended(code: int) -> tuple[str, int]:
    """Cómo terminó la caja, como lo lee ``SafeExecute._death_reason``: bubblewrap devuelve 128 +
    la señal del núcleo; con el núcleo de siempre, ``kill(0, ...)`` mata también a bubblewrap."""
    if code < 0 or code > 128:
        return "señal", -code if code < 0 else code - 128
    return "código", code


def test_if_the_origin_cannot_serve_the_classic_kernel_starts(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise forked_kernels.ForkError("prueba: sin proceso de origen")

    monkeypatch.setattr(forked_kernels, "find_holder", broken)
    monkeypatch.setattr(sandbox, "_FORK_PROBLEM", [])

    async def start() -> tuple[bool, str]:
        km = _kernel(tmp_path, "respaldo", True)
        await _start(km)
        try:
            return km.forked, await _run(km, "print(6 * 7)")
        finally:
            await _stop(km)

    assert asyncio.run(start()) == (False, "42\n")
    assert sandbox._FORK_PROBLEM == ["prueba: sin proceso de origen"]


# Softmax normalizada por columnas (un error del laboratorio 01 que pierde ``test_softmax``).
SOFTMAX_BY_COLUMNS = {"softmax": [("logits.max(dim=1, keepdim=True)", "logits.max(dim=0, keepdim=True)"),
                                  ("exp.sum(dim=1, keepdim=True)", "exp.sum(dim=0, keepdim=True)")]}


def test_scores_are_the_same_with_classic_kernels(tmp_path, monkeypatch):
    """Las mismas entregas (la referencia y una con un error), con núcleos nacidos del proceso de
    origen y con los de siempre: las mismas notas, celda por celda."""
    lab = "01_tensores"
    scores, born = {}, []
    launch = sandbox.SandboxKernelManager._async_launch_kernel

    async def recorded(self, *args, **kwargs):
        await launch(self, *args, **kwargs)
        born.append(self.forked)

    monkeypatch.setattr(sandbox.SandboxKernelManager, "_async_launch_kernel", recorded)
    for fork in (True, False):
        root = tmp_path / f"curso-{fork}"
        root.mkdir()
        shutil.copy(REPO / "nbgrader_config.py", root)
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
            config.write(f"\nc.SafeExecute.fork_kernels = {fork}\n")
        shutil.copytree(REPO / "source" / lab, root / "source" / lab)
        publish.publish(root, lab)
        submissions.submit(root, lab, "ana", variant_notebook(root, lab, {}))
        submissions.submit(root, lab, "luis", variant_notebook(root, lab, SOFTMAX_BY_COLUMNS))
        outcomes = grading.grade(root, lab, report=lambda line: None)
        assert all(o.ok for o in outcomes), [o.message for o in outcomes]
        scores[fork] = {s: gradebook.cell_scores(root, lab, s) for s in ("ana", "luis")}
        assert set(born) == {fork}, born  # todos los núcleos nacieron como se pidió
        born.clear()
    assert scores[True] == scores[False]
    assert all(s == m for s, m in scores[True]["ana"].values())
    assert any(s < m for s, m in scores[True]["luis"].values())
