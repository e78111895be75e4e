"""Los servicios de las pruebas funcionan: PostgreSQL con el libro de nbgrader y un clúster de Dask."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import sqlalchemy
from distributed import Client
from nbgrader.api import Gradebook

from tests.services import create_database

STUDENTS_PER_THREAD = 50


def test_postgres_gradebook_with_concurrent_writers(postgres_url, monkeypatch):
    # nbgrader llama a la orden «alembic» por el PATH al crear un libro nuevo.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    url = create_database(postgres_url, "libro_concurrente")
    with Gradebook(url) as gradebook:
        gradebook.add_student("ana", first_name="Ana", last_name="García")
        gradebook.add_assignment("01_tensores")
    tables = set(sqlalchemy.inspect(sqlalchemy.create_engine(url)).get_table_names())
    assert {"student", "assignment", "grade", "submitted_notebook"} <= tables

    barrier, errors = threading.Barrier(2), []

    def add_students(prefix: str) -> None:
        try:
            with Gradebook(url) as gradebook:  # una conexión propia por hilo
                barrier.wait(timeout=30)
                for i in range(STUDENTS_PER_THREAD):
                    gradebook.add_student(f"{prefix}{i:02d}")
        except Exception as error:  # noqa: BLE001 - se informa en el hilo principal
            errors.append(error)

    threads = [threading.Thread(target=add_students, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with Gradebook(url) as gradebook:
        ids = sorted(student.id for student in gradebook.students)
        assert [a.name for a in gradebook.assignments] == ["01_tensores"]
    expected = ["ana"] + [f"{p}{i:02d}" for p in ("a", "b") for i in range(STUDENTS_PER_THREAD)]
    assert ids == sorted(expected)


def test_dask_cluster_has_two_worker_processes_with_the_course_environment(dask_scheduler):
    assert dask_scheduler.startswith("tcp://127.0.0.1:")
    with Client(dask_scheduler, timeout="30s") as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        pids = [client.submit(os.getpid, workers=[w], allow_other_workers=False, pure=False).result()
                for w in workers]
        assert len(set(pids)) == 2 and os.getpid() not in pids
        for name in ("CURSO_DATA_DIR", "CURSO_DATA_MIRROR", "OMP_NUM_THREADS"):
            seen = client.run(os.environ.get, name)
            assert set(seen.values()) == {os.environ[name]}, f"{name}: {seen}"
