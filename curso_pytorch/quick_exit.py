"""Terminar un proceso del curso (la orden ``curso``, un proceso corrector) sin esperar a que el
intérprete desmonte torch, nbgrader y sus bibliotecas.

Un proceso que importó torch tarda cerca de un segundo en salir (0.4 s Python al borrar sus
módulos y 0.45 s los destructores de las bibliotecas de C++ y CUDA; un proceso que no importa nada,
0.03 s): lo pagaba cada ``curso calificar`` y, al acabar un lote, cada proceso corrector.
``exit_now`` hace lo que importa de una salida normal, en el mismo orden (esperar a los hilos que
no son demonios, las funciones de ``atexit`` —que borran las carpetas temporales y apagan el núcleo
de reserva—, los registros y las salidas estándar) y termina con ``os._exit``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading


def exit_now(code: int | None) -> None:
    """Como ``sys.exit(code)`` al final del programa, sin desmontar el intérprete."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001 (las de la salida normal, en su orden)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (OSError, ValueError):  # cerrada, o su lector ya no está
            pass
    os._exit(code or 0)
