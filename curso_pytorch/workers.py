"""Dónde se ejecutan las tareas de calificación: en este proceso, en procesos correctores de esta
máquina o en un clúster Dask.

Cada tarea (``curso_pytorch.autograde.Task``) lleva consigo el laboratorio y la entrega (bytes),
así que da igual que el trabajador esté en otra máquina: solo necesita la caché de datos. Los
resultados vuelven según terminan; quien coordina (``curso_pytorch.grading``) los escribe.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace

from .autograde import Result, Task, run_task


def default_workers() -> int:
    """Entregas a la vez por defecto: una por núcleo disponible."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_all(tasks: list[Task], workers: int = 1, scheduler: str | None = None):
    """Resultados según terminan: en este proceso (1), en ``workers`` procesos, o en Dask."""
    if scheduler:
        from distributed import Client, as_completed as dask_completed

        with Client(scheduler, timeout="30s") as client:
            futures = client.map(run_task, tasks, pure=False)
            for future in dask_completed(futures):
                yield future.result()
        return
    if workers <= 1 or len(tasks) <= 1:
        from .execute import discard_spare

        try:
            for number, task in enumerate(tasks, 1):
                yield run_task(replace(task, prestart_next=number < len(tasks)))
        finally:
            # Si la última entrega falló antes de tomar el núcleo de reserva (un cuaderno roto), no
            # queda vivo para otro lote de este proceso.
            discard_spare()
        return
    # Cada proceso arranca el núcleo de su entrega siguiente mientras califica una; en las últimas
    # ``workers`` puede no haber siguiente.
    tasks = [replace(task, prestart_next=number <= len(tasks) - workers) for number, task in enumerate(tasks, 1)]
    idle: queue.Queue = queue.Queue()
    for _ in range(workers):
        idle.put(_Worker())

    def run(task: Task) -> Result:
        worker = idle.get()
        try:
            return worker.run(task)
        finally:
            idle.put(worker)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(run, task) for task in tasks]):
                yield future.result()
    finally:
        # Todos a la vez: cada uno tarda en salir lo que tarda su intérprete (véase ``quick_exit``).
        done = [idle.get() for _ in range(idle.qsize())]
        for worker in done:
            worker.finish()
        for worker in done:
            worker.close()


class _Worker:
    """Un proceso hijo (``python -m curso_pytorch.workers``) que califica tareas una tras otra:
    importa nbgrader una sola vez. Tareas y resultados viajan en *pickle* por sus tuberías; si el
    hijo muere, la entrega queda con su motivo y se arranca otro."""

    def __init__(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "curso_pytorch.workers"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )

    def run(self, task: Task) -> Result:
        try:
            pickle.dump(task, self.process.stdin)
            self.process.stdin.flush()
            return pickle.load(self.process.stdout)
        except Exception:  # noqa: BLE001 (el hijo murió o no respondió)
            self.log.seek(0)
            lines = self.log.read().decode(errors="replace").strip().splitlines()
            self.close()
            self.__init__()
            detail = lines[-1] if lines else "sin detalles"
            return Result(task.lab, task.student, ok=False, problem=f"el proceso corrector terminó mal: {detail}")

    def finish(self) -> None:
        """Que el hijo termine en cuanto acabe su tarea (sin esperarlo: ``close``)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        self.finish()
        try:
            self.process.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.process.kill()
        self.log.close()


def serve(tasks, out) -> None:
    """El bucle del proceso hijo: una tarea tras otra hasta que se cierre su entrada."""
    while True:
        try:
            task = pickle.load(tasks)
        except EOFError:
            break
        pickle.dump(run_task(task), out)
        out.flush()


if __name__ == "__main__":
    # Proceso hijo de ``_Worker``. Lo que imprima nbgrader va a stderr. (Las clases deben ser las
    # del módulo importado, no las de __main__, para que el padre pueda leer los resultados.)
    from curso_pytorch import workers
    from curso_pytorch.quick_exit import exit_now

    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    workers.serve(sys.stdin.buffer, out)
    exit_now(0)
