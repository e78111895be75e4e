"""Los límites de una entrega y cómo se los aplica el proceso que será su núcleo (el lanzador de la
caja antes de ``exec``, o el núcleo que nace del proceso de origen antes de recibir la entrega)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534  # el usuario del núcleo dentro de la caja
ADDRESS_SPACE_EXTRA_MB = 4096


@dataclass
class Limits:
    """Límites de una entrega. Los valores por defecto caben de sobra para un laboratorio."""

    memory_mb: int = 4096  # memoria del núcleo (y sus hijos con cgroups)
    cpu_seconds: int = 1800  # tiempo de CPU acumulado del núcleo
    processes: int = 256  # procesos e hilos dentro de la caja (cgroup pids)
    file_mb: int = 256  # tamaño máximo de un archivo escrito
    cpus: float = 0.0  # cuota de CPU (núcleos); 0 = sin cuota


def write(path: Path, value) -> None:
    try:
        path.write_text(str(value))
    except OSError:
        pass


def is_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def apply_limits(spec: dict) -> None:
    """Cgroups y límites por proceso, para este proceso y lo que cree (el lanzador, antes de ``exec``;
    el núcleo que nace del proceso de origen, antes de entrar en la caja)."""
    try:
        import resource
    except ImportError:  # Windows: sin límites por proceso
        return

    for folder in spec.get("cgroups", []):
        write(Path(folder) / "cgroup.procs", os.getpid())
    limits = Limits(**spec["limits"])
    mb = 2**20
    if spec.get("address_space_limit"):
        # El espacio de direcciones incluye las bibliotecas de torch (unos 4 GB con CUDA).
        address_space = (limits.memory_mb + ADDRESS_SPACE_EXTRA_MB) * mb
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not is_root() and not spec.get("cgroups"):
        # Sin cgroup de procesos: límite por usuario (root no lo respeta).
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
