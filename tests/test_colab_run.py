"""Ejecución «como en Colab»: cada laboratorio de release/, resuelto con la solución de referencia,
se ejecuta de principio a fin en un entorno virtual nuevo que solo tiene lo que trae Google Colab.

Lo que trae Colab (``COLAB_SHIPS``) no se descarga otra vez: el entorno nuevo ve, mediante un
archivo .pth, una carpeta con enlaces a esas distribuciones del entorno del curso (y a sus
dependencias), nada más. Antes de la celda de preparación, ``torchmetrics``, ``torchinfo``,
``nbgrader`` y el paquete del curso no se pueden importar; la celda de preparación los instala con
pip por el mismo camino que en Colab, con la fuente que indica ``CURSO_PAQUETE`` (aquí, una copia
del paquete del curso; en Colab, el repositorio de GitHub). Cada laboratorio usa su propio entorno,
como cada cuaderno abierto en Colab usa su propia máquina.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from curso_pytorch import course, submissions

REPO = Path(__file__).resolve().parents[1]
LABS = course.labs(REPO)

# Lo que Colab trae instalado y usan los cuadernos (más pip e ipykernel, que ejecutan la celda de
# preparación y el núcleo). Colab no trae torchmetrics ni torchinfo ni, claro, nbgrader.
COLAB_SHIPS = ("torch", "torchvision", "numpy", "matplotlib", "scikit-learn", "tensorboard", "tqdm",
               "ipykernel", "pip")
PRESENT = ("torch", "torchvision", "numpy", "matplotlib", "sklearn", "tensorboard", "tqdm", "ipykernel")
ABSENT = ("curso_pytorch", "torchmetrics", "torchinfo", "nbgrader")
INSTALLED_BY_SETUP = ("curso_pytorch", "torchmetrics", "torchinfo")
CELL_TIMEOUT = 120


def _dependency_closure(roots) -> set[str]:
    """Nombres (normalizados) de ``roots`` y de todas sus dependencias instaladas, con sus extras."""
    seen: set[tuple[str, str]] = set()
    pending = [(name, "") for name in roots]
    while pending:
        name, extra = pending.pop()
        name = canonicalize_name(name)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for spec in metadata.distribution(name).requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending += [(requirement.name, e) for e in ("", *requirement.extras)]
    return {name for name, _ in seen}


def _filtered_site(site: Path, target: Path, keep: set[str]) -> None:
    """Crea en ``target`` enlaces a los archivos de ``site`` que pertenecen a ``keep``.

    Una carpeta compartida con distribuciones que no están en ``keep`` (un espacio de nombres)
    no se enlaza entera: se crea y se enlaza su contenido, nivel a nivel.
    """
    owners: dict[tuple, set] = defaultdict(set)
    children: dict[tuple, set] = defaultdict(set)
    for dist in metadata.distributions(path=[str(site)]):
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or []:
            parts = PurePosixPath(str(file)).parts
            if not parts or parts[0] == "..":
                continue  # scripts de bin/: no hacen falta
            for depth in range(1, len(parts) + 1):
                owners[parts[:depth]].add(name)
                children[parts[: depth - 1]].add(parts[:depth])

    def link(prefix: tuple) -> None:
        who = owners[prefix]
        if not who & keep:
            return
        destination = target.joinpath(*prefix)
        if who <= keep:
            destination.symlink_to(site.joinpath(*prefix))
        else:
            destination.mkdir()
            for child in sorted(children[prefix]):
                link(child)

    target.mkdir(parents=True)
    for top in sorted(children[()]):
        link(top)


@pytest.fixture(scope="module")
def colab_site(tmp_path_factory) -> Path:
    """Carpeta con solo las distribuciones de Colab (y sus dependencias) del entorno del curso."""
    keep = _dependency_closure(COLAB_SHIPS)
    leaked = keep & {canonicalize_name(n) for n in ("curso-pytorch", "torchmetrics", "torchinfo", "nbgrader")}
    assert not leaked, f"lo que Colab trae depende de {leaked}: no sería un entorno de Colab"
    site = Path(metadata.distribution("torch").locate_file(""))
    target = tmp_path_factory.mktemp("colab") / "site-packages"
    _filtered_site(site, target, keep)
    return target


@pytest.fixture(scope="module")
def course_wheel(tmp_path_factory) -> Path:
    """Rueda (wheel) del paquete del curso tal como está ahora: lo que pip construye desde el
    repositorio en Colab, construido una sola vez para todos los laboratorios."""
    root = tmp_path_factory.mktemp("paquete")
    source = root / "curso-pytorch"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    shutil.copytree(REPO / "curso_pytorch", source / "curso_pytorch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(root / "dist"), str(source)], check=True)
    (wheel,) = (root / "dist").glob("curso_pytorch-*.whl")
    return wheel


def _fresh_venv(folder: Path, colab_site: Path) -> Path:
    """Entorno virtual nuevo que, además de la biblioteca estándar, solo ve ``colab_site``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    own_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    (own_site / "colab.pth").write_text(f"import site; site.addsitedir({str(colab_site)!r})\n")
    return python


def _importable(python: Path, modules, cwd: Path) -> dict[str, bool]:
    probe = (
        "import importlib, importlib.util, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name) if name in %r else importlib.util.find_spec(name).name\n"
        "        found[name] = True\n"
        "    except (ImportError, AttributeError):\n"
        "        found[name] = False\n"
        "print(json.dumps(found))\n" % (ABSENT,)
    )
    result = subprocess.run([str(python), "-c", probe, *modules], cwd=cwd, check=True,
                            capture_output=True, text=True, env=_clean_env())
    return json.loads(result.stdout)


def _colab_kernel(tmp_path: Path, python: Path, monkeypatch) -> None:
    """Un núcleo de Jupyter «colab» con el Python del entorno nuevo, sin nada del entorno del curso."""
    spec = tmp_path / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (como en Colab)", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


class ColabRun:
    """Un laboratorio (``LAB``) como en Colab. Una clase por laboratorio (al final del archivo):
    pytest-xdist reparte las clases entre procesos."""

    LAB = ""

    def test_runs_top_to_bottom_installing_what_colab_lacks(self, tmp_path, colab_site, course_wheel,
                                                             monkeypatch, record_property):
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError

        lab = self.LAB
        python = _fresh_venv(tmp_path / "venv", colab_site)
        work = tmp_path / "colab"  # carpeta de trabajo del cuaderno (como /content en Colab)
        work.mkdir()
        before = _importable(python, PRESENT + ABSENT, work)
        assert all(before[m] for m in PRESENT), f"falta algo de lo que trae Colab: {before}"
        assert not any(before[m] for m in ABSENT), f"el entorno nuevo ya tiene lo que Colab no trae: {before}"

        # El núcleo de Jupyter que usa el entorno nuevo (nbclient, del entorno del curso, lo dirige).
        _colab_kernel(tmp_path, python, monkeypatch)
        monkeypatch.setenv("CURSO_PAQUETE", str(course_wheel))
        monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        monkeypatch.setenv("PIP_ROOT_USER_ACTION", "ignore")
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")

        # Un alumno que terminó el laboratorio: la copia de release/ con las soluciones de referencia
        # (sin pruebas ocultas: release/ no las tiene; las pruebas visibles sí se ejecutan).
        start = time.perf_counter()
        for path in sorted((REPO / "release" / lab).glob("*.ipynb")):
            nb = submissions.reference_notebook(REPO, lab, path.name)
            client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="colab", allow_errors=False,
                                    resources={"metadata": {"path": str(work)}})
            try:
                client.execute()
            except CellExecutionError as error:
                pytest.fail(f"{lab}/{path.name}: una celda falló en el entorno de Colab:\n{str(error)[-3000:]}")
            errors = [f"{c.id}: {o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "error"]
            assert not errors, "\n".join(errors)
        elapsed = time.perf_counter() - start
        record_property("segundos", round(elapsed, 1))
        print(f"{lab} como en Colab: {elapsed:.1f} s (con la instalación de la celda de preparación)")

        # La celda de preparación instaló lo que faltaba, dentro del entorno nuevo.
        own_site = python.parent.parent / "lib"
        for dist in INSTALLED_BY_SETUP:
            assert list(own_site.glob(f"python*/site-packages/{dist}-*.dist-info")), (
                f"la celda de preparación no instaló {dist} en el entorno nuevo"
            )


for _lab in LABS:
    _name = "TestColab" + "".join(part.title() for part in _lab.split("_"))
    globals()[_name] = type(_name, (ColabRun,), {"LAB": _lab, "__module__": __name__})


def test_failed_install_stops_with_one_spanish_sentence(tmp_path, colab_site, monkeypatch):
    """Si pip no puede instalar el paquete del curso (sin conexión, dirección equivocada), la celda
    de preparación lo dice en una frase en español, sin pila de llamadas, y «Ejecutar todo» se
    detiene ahí: ninguna celda posterior llega a fallar con un ImportError."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    import nbformat

    python = _fresh_venv(tmp_path / "venv", colab_site)
    work = tmp_path / "colab"
    work.mkdir()
    _colab_kernel(tmp_path, python, monkeypatch)
    missing = tmp_path / "no_existe" / "curso_pytorch-0.0-py3-none-any.whl"
    monkeypatch.setenv("CURSO_PAQUETE", str(missing))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")

    lab = LABS[0]
    nb = nbformat.read(REPO / "release" / lab / f"{lab}.ipynb", as_version=4)
    setup_index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="colab", allow_errors=False,
                            resources={"metadata": {"path": str(work)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert [i for i, _ in errors] == [setup_index], "solo debe fallar la celda de preparación"
    (_, error), = errors
    assert error.ename == "InstallError"
    assert len(error.traceback) == 1, error.traceback
    line = re.sub(r"\x1b\[[0-9;]*m", "", error.traceback[0])
    assert line.startswith(f"Instalación fallida: no se pudo instalar el paquete del curso desde {missing} (pip dijo: «")
    assert line.endswith("»); comprueba la conexión a internet y vuelve a ejecutar esta celda.")
    assert "CalledProcessError" not in line and "Traceback" not in line
    later = [c for c in nb.cells[setup_index + 1:] if c.cell_type == "code" and c.get("outputs")]
    assert not later, "«Ejecutar todo» debía detenerse en la celda de preparación"
