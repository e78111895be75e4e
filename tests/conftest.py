"""Entorno común de las pruebas: datos sin conexión (MNIST y CIFAR-10 reales) y cursos temporales."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import curso_pytorch  # noqa: F401 - antes que nbformat (ver curso_pytorch/__init__.py)

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
    # Espejo local de MNIST y de la copia en JPEG de CIFAR-10 (CI lo define; en una copia de
    # desarrollo, ../shared/datasets).
    if not os.environ.get("CURSO_DATA_MIRROR") and SHARED_DATASETS.is_dir():
        os.environ["CURSO_DATA_MIRROR"] = str(SHARED_DATASETS)


# Lo que más tarda, primero: pytest-xdist («--dist loadscope --no-loadscope-reorder», en
# pyproject.toml) reparte los grupos de pruebas en el orden de la colección, así que el final de la
# ejecución queda para pruebas cortas y ningún proceso espera solo a que otro acabe un lote largo.
# Por duración medida en CI, de más a menos; los demás archivos van detrás, en su orden.
SLOWEST_FIRST = (
    "test_lab03_entrenamiento.py", "test_lab06_metricas.py", "test_lab05_optimizadores.py",
    "test_lab07_tensorboard.py", "test_sandbox.py", "test_demo.py", "test_visible_checks.py",
    "test_lab02_modulos.py", "test_lab04_perdidas.py", "test_lab01_tensores.py", "test_colab_run.py",
    "test_parallel.py", "test_instructor.py", "test_prestart.py", "test_browser.py", "test_lectures.py",
    "test_practice.py", "test_feedback_page.py", "test_tensorboard_screens.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # estable: dentro de cada archivo, el orden de siempre


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


@pytest.fixture(scope="session")
def cifar_archive() -> Path:
    from curso_pytorch import cifar_jpeg, data

    archive = cifar_jpeg.find_archive(data.mirror_dirs())
    if archive is None:
        pytest.fail(f"Falta la copia en JPEG de CIFAR-10 ({cifar_jpeg.ARCHIVE}) en CURSO_DATA_MIRROR "
                    "(en CI, ../shared/datasets).")
    return archive


def _shared_temp(tmp_path_factory) -> Path:
    """Carpeta temporal de toda la sesión, común a los procesos de pytest-xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def offline_data(tmp_path_factory, mnist_mirror, cifar_archive):
    """Caché de datos temporal con MNIST real (del espejo) y CIFAR-10 real (decodificado).

    La capa de datos decodifica la copia en JPEG de CIFAR-10 una sola vez por sesión, en una
    carpeta común a los procesos de pytest-xdist y con el nombre del md5 del archivo (su cerrojo
    hace esperar a los demás); cada proceso copia el resultado en su caché. Las variables de
    entorno quedan puestas para toda la sesión: los núcleos que lanza nbgrader las heredan, igual
    que en un curso real con espejo local.
    """
    from curso_pytorch import cifar_jpeg, data

    base = tmp_path_factory.mktemp("datos")
    mirrors = list(dict.fromkeys([str(mnist_mirror), str(cifar_archive.parents[1])]))
    saved = {k: os.environ.get(k) for k in ("CURSO_DATA_DIR", "CURSO_DATA_MIRROR")}
    os.environ["CURSO_DATA_MIRROR"] = os.pathsep.join(mirrors)
    shared = _shared_temp(tmp_path_factory) / f"cifar10-jpeg-{cifar_jpeg.ARCHIVE_MD5}"
    status = data.provision(("cifar10",), root=shared)
    assert status == {"cifar10": "listo"}, status
    shutil.copytree(shared / data.CIFAR10_FOLDER, base / "cache" / data.CIFAR10_FOLDER)
    os.environ["CURSO_DATA_DIR"] = str(base / "cache")
    yield {"cache": base / "cache", "mirror": mnist_mirror, "cifar_archive": cifar_archive,
           "cifar_built": shared / data.CIFAR10_FOLDER}
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
