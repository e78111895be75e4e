"""Entorno común de las pruebas: datos sin conexión, sustituto de CIFAR-10 y cursos temporales."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.services import dask_scheduler, postgres_url  # noqa: F401 - fixtures de servicios reales

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def pytest_configure(config):
    # Las pruebas califican en paralelo (pytest-xdist): un hilo por núcleo de calificación
    # evita que los procesos se estorben. No cambia los resultados: referencia y alumno se
    # ejecutan siempre en las mismas condiciones.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Los cuadernos que ejecutan las pruebas (lecciones, referencias calificadas por nbgrader)
    # tratan como errores las APIs obsoletas de torch, torchvision y torchmetrics
    # (curso_pytorch.notebook.deprecations_as_errors). Los núcleos heredan la variable.
    os.environ.setdefault("CURSO_STRICT_WARNINGS", "1")
    # Espejo local de MNIST (CI lo define; en una copia de desarrollo, ../shared/datasets).
    if not os.environ.get("CURSO_DATA_MIRROR") and SHARED_DATASETS.is_dir():
        os.environ["CURSO_DATA_MIRROR"] = str(SHARED_DATASETS)


def pytest_generate_tests(metafunc):
    """Parametriza ``bug`` con los errores típicos (``BUGS``) de cada clase de laboratorio."""
    if "bug" in metafunc.fixturenames and getattr(metafunc.cls, "BUGS", None):
        metafunc.parametrize("bug", sorted(metafunc.cls.BUGS))


@pytest.fixture(scope="session")
def mnist_mirror() -> Path:
    for entry in os.environ.get("CURSO_DATA_MIRROR", "").split(os.pathsep):
        if entry and (Path(entry) / "MNIST" / "raw").is_dir():
            return Path(entry)
    pytest.fail("Falta el espejo de MNIST: define CURSO_DATA_MIRROR (en CI, ../shared/datasets).")


@pytest.fixture(scope="session", autouse=True)
def offline_data(tmp_path_factory, mnist_mirror):
    """Caché de datos temporal + espejo con MNIST real y el sustituto de CIFAR-10.

    Las variables de entorno quedan puestas para toda la sesión: los núcleos que lanza
    nbgrader las heredan, igual que en un curso real con espejo local.
    """
    from tests import cifar_standin

    base = tmp_path_factory.mktemp("datos")
    standin = cifar_standin.build(base / "espejo_sustituto", mnist_root=base / "cache_mnist")
    saved = {k: os.environ.get(k) for k in ("CURSO_DATA_DIR", "CURSO_DATA_MIRROR")}
    os.environ["CURSO_DATA_DIR"] = str(base / "cache")
    os.environ["CURSO_DATA_MIRROR"] = os.pathsep.join([str(mnist_mirror), str(standin)])
    yield {"cache": base / "cache", "mirror": mnist_mirror, "standin": standin}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def course_copy(tmp_path) -> Path:
    """Una copia del curso (config, source/, release/) en una carpeta temporal."""
    root = tmp_path / "curso"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    shutil.copytree(REPO / "release", root / "release")
    return root
