"""Servicios reales para las pruebas: un servidor PostgreSQL y un clúster de Dask locales.

Los dos escuchan solo en 127.0.0.1, en puertos libres elegidos al azar, y viven en carpetas
temporales que se borran al terminar la sesión de pruebas:

- ``postgres_url``: un servidor PostgreSQL de los paquetes de Debian (``initdb`` + ``pg_ctl``)
  con una base de datos vacía; devuelve su URL de SQLAlchemy (controlador psycopg 3).
  PostgreSQL no arranca como root: en ese caso se ejecuta como el usuario ``postgres``.
- ``dask_scheduler``: un proceso ``dask scheduler`` y dos ``dask worker`` (un proceso y un
  hilo cada uno) que heredan el entorno de las pruebas (caché y espejo de datos,
  ``OMP_NUM_THREADS``); devuelve la dirección del planificador, ``tcp://127.0.0.1:PUERTO``.

``tests/conftest.py`` los registra como fixtures.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
POSTGRES_DIRS = "/usr/lib/postgresql/*/bin"
POSTGRES_USER = "postgres"  # usuario sin privilegios del paquete de Debian (si se ejecuta como root)
DATABASE = "calificaciones"
DASK_WORKERS = 2


def free_port() -> int:
    """Un puerto TCP libre en 127.0.0.1 (el sistema elige uno al azar)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return "(sin registro)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """La carpeta de binarios de PostgreSQL más reciente de Debian, o None si no hay ninguna."""
    found = [p for p in Path("/").glob(POSTGRES_DIRS.lstrip("/"))
             if (p / "initdb").is_file() and (p / "pg_ctl").is_file()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None)


def _as_postgres_user() -> dict:
    """Argumentos de ``subprocess`` para no ejecutar PostgreSQL como root (que se niega)."""
    return {"user": POSTGRES_USER, "group": POSTGRES_USER} if os.geteuid() == 0 else {}


def _run(command: list, **options) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **_as_postgres_user(), **options)
    if result.returncode != 0:
        raise RuntimeError(f"Falló {' '.join(map(str, command[:2]))}:\n{result.stdout}{result.stderr}")


def database_url(port: int, database: str = DATABASE, user: str = "curso") -> str:
    return f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"


def create_database(url: str, name: str) -> str:
    """Crea la base de datos ``name`` en el servidor de ``url``; devuelve su URL."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def postgres_server():
    """Arranca un servidor PostgreSQL temporal; produce la URL de su base de datos vacía."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail(f"No se encontró PostgreSQL (initdb y pg_ctl en {POSTGRES_DIRS}). "
                    "Instálelo con «apt-get install postgresql» (lo hace .ci/run).", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="curso-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(base, POSTGRES_USER, POSTGRES_USER)
    pgdata, log = base / "datos", base / "servidor.log"
    started = False
    try:
        _run([bindir / "initdb", "-D", pgdata, "-U", "curso", "--auth=trust",
              "--encoding=UTF8", "--locale=C"], cwd=base)
        for _ in range(3):  # otro proceso podría ocupar el puerto entre elegirlo y usarlo
            port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
            try:
                _run([bindir / "pg_ctl", "-D", pgdata, "-l", log, "-o", options, "-w", "-t", "60",
                      "start"], cwd=base)
                started = True
                break
            except RuntimeError:
                continue
        if not started:
            pytest.fail(f"PostgreSQL no arrancó. Registro del servidor:\n{_tail(log)}", pytrace=False)
        _run([bindir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "curso", DATABASE],
             cwd=base)
        yield database_url(port)
    finally:
        if started:
            _run([bindir / "pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"], cwd=base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """URL de SQLAlchemy de una base de datos vacía en un servidor PostgreSQL temporal."""
    with postgres_server() as url:
        yield url


# --------------------------------------------------------------------------- Dask


def dask_command() -> Path:
    """La orden ``dask`` del entorno de Python que ejecuta las pruebas."""
    command = Path(sys.executable).parent / "dask"
    if not command.is_file():
        pytest.fail(f"Falta la orden dask junto a {sys.executable}: instale «dask[distributed]» "
                    "(está en requirements.txt).", pytrace=False)
    return command


def worker_environment() -> dict[str, str]:
    """El entorno de las pruebas (datos, hilos) más el repositorio en PYTHONPATH."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def dask_cluster(workers: int = DASK_WORKERS, timeout: float = 60):
    """Un ``dask scheduler`` y ``workers`` procesos ``dask worker`` locales; produce la dirección."""
    from distributed import Client

    command = dask_command()
    base = Path(tempfile.mkdtemp(prefix="curso-dask-"))
    env = worker_environment()
    address = f"tcp://127.0.0.1:{free_port()}"
    processes, logs = [], []

    def start(name: str, args: list) -> None:
        logs.append(base / f"{name}.log")
        with open(logs[-1], "wb") as out:
            processes.append(subprocess.Popen([command, *args], cwd=base, env=env,
                                              stdout=out, stderr=subprocess.STDOUT))

    try:
        start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                            "--no-dashboard", "--no-show"])
        for i in range(workers):
            start(f"worker{i}", ["worker", address, "--host", "127.0.0.1", "--nworkers", "1",
                                 "--nthreads", "1", "--no-dashboard", "--name", f"trabajador-{i}",
                                 "--local-directory", str(base / f"worker{i}")])
        try:
            with Client(address, timeout=f"{timeout}s") as client:
                client.wait_for_workers(workers, timeout=timeout)
        except Exception as error:
            dead = [log.stem for log, p in zip(logs, processes) if p.poll() is not None]
            details = "\n".join(f"--- {log.name}\n{_tail(log)}" for log in logs)
            pytest.fail(f"El clúster de Dask no quedó listo ({type(error).__name__}: {error}; "
                        f"procesos terminados: {dead or 'ninguno'}).\n{details}", pytrace=False)
        yield address
    finally:
        # Primero los trabajadores (con el planificador vivo cierran limpiamente), luego él.
        _stop(processes[1:])
        _stop(processes[:1])
        shutil.rmtree(base, ignore_errors=True)


def _stop(processes: list, timeout: float = 20) -> None:
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def dask_scheduler(offline_data):
    """Dirección ``tcp://127.0.0.1:PUERTO`` de un clúster de Dask local con dos trabajadores.

    Depende de ``offline_data`` para que los trabajadores hereden la caché y el espejo de datos.
    """
    with dask_cluster() as address:
        yield address
