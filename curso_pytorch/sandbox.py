"""Aislamiento de la corrección: el núcleo de cada entrega corre en una caja con límites.

En Linux con bubblewrap (paquete ``bubblewrap`` de Debian) el núcleo de Jupyter que ejecuta el
cuaderno del alumno:

- no tiene red (``--unshare-net``; nbgrader le habla por sockets IPC en una carpeta propia);
- solo ve, de solo lectura, el sistema, Python, el entorno virtual, el paquete del curso y la
  caché de datos; puede escribir únicamente en su carpeta de trabajo y en un ``/tmp`` privado.
  La carpeta del curso (``source/``, el libro de calificaciones, otras entregas) no existe dentro;
- dentro es el usuario ``nobody``, sin capacidades;
- tiene límites de memoria, tiempo de CPU, procesos, tamaño de archivo y (con cgroups) CPU.

Donde no hay bubblewrap (macOS, Windows, Linux sin el paquete) quedan solo los límites de
recursos (``resource.setrlimit``) y se avisa de ello: el código del alumno corre sin aislar.

El lanzador (``python -m curso_pytorch.sandbox LÍMITES -- ORDEN``) aplica los límites, entra en los
cgroups y ejecuta la orden; lo usa ``SandboxKernelManager``. Con bubblewrap, la orden de la caja es
un guardián que solo espera, y el núcleo nace dentro de ella del proceso de origen con torch ya
importado (``curso_pytorch.forked_kernels``); si eso falla, la orden es el núcleo de siempre.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from .process_limits import NOBODY, Limits, apply_limits, is_root, write

CGROUP_ROOT = Path("/sys/fs/cgroup")


# --------------------------------------------------------------------------- disponibilidad


@lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """None si bubblewrap aísla en esta máquina; si no, el motivo en español."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap solo existe en Linux (esta máquina: {sys.platform})"
    if shutil.which("bwrap") is None:
        return "no está instalado bubblewrap (instale el paquete «bubblewrap» de su distribución)"
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"bubblewrap no puede crear la caja aquí ({probe.stderr.strip()[:200]})"
    return None


def describe() -> str:
    """Una línea para el profesor: qué aislamiento tendrá la calificación en esta máquina."""
    problem = bubblewrap_problem()
    if problem is None:
        cgroups = "con cgroups" if is_root() and _cgroup_dirs("x") else "sin cgroups (límites por proceso)"
        return f"Aislamiento: bubblewrap (sin red, solo su carpeta), {cgroups}."
    return f"AVISO: calificación SIN aislamiento, solo con límites de recursos: {problem}."


# --------------------------------------------------------------------------- cgroups


def _cgroup_dirs(name: str) -> dict[str, Path]:
    """Carpetas de cgroup (v1: pids, memory, cpu) donde se puede crear ``name``."""
    found = {}
    for controller in ("pids", "memory", "cpu"):
        base = CGROUP_ROOT / controller
        if base.is_dir() and os.access(base, os.W_OK) and (base / "cgroup.procs").exists():
            found[controller] = base / f"curso-{name}"
    return found


# Peso de CPU (cgroup v1) de un núcleo arrancado de antemano mientras espera su entrega, y el normal.
# Así arranca con la CPU que sobra: los hilos de cálculo del núcleo que está calificando no tienen
# que esperar a los suyos (con dos hilos por núcleo y la CPU ocupada, los pasos pequeños de un
# entrenamiento iban hasta cinco veces más lentos).
BACKGROUND_SHARES, FOREGROUND_SHARES = 2, 1024


def make_cgroups(limits: Limits, background: bool = False) -> list[str]:
    """Crea los cgroups de una caja con sus límites; devuelve las carpetas creadas. Con
    ``background``, la caja solo usa la CPU que nadie más quiere (hasta ``to_foreground``)."""
    made = []
    for controller, folder in _cgroup_dirs(uuid.uuid4().hex[:12]).items():
        try:
            folder.mkdir()
        except OSError:
            continue
        made.append(str(folder))
        if controller == "pids":
            write(folder / "pids.max", limits.processes)
        elif controller == "memory":
            write(folder / "memory.limit_in_bytes", limits.memory_mb * 2**20)
        elif controller == "cpu":
            if limits.cpus > 0:
                write(folder / "cpu.cfs_period_us", 100_000)
                write(folder / "cpu.cfs_quota_us", int(limits.cpus * 100_000))
            if background:
                write(folder / "cpu.shares", BACKGROUND_SHARES)
    return made


def to_foreground(cgroups: list[str]) -> None:
    """La caja vuelve a tener el peso de CPU de cualquier otra (``make_cgroups(background=True)``)."""
    for folder in cgroups:
        if (Path(folder) / "cpu.shares").is_file():
            write(Path(folder) / "cpu.shares", FOREGROUND_SHARES)


def oom_killed(cgroups: list[str]) -> bool:
    """¿El cgroup de memoria llegó a su límite?"""
    for folder in cgroups:
        failcnt = Path(folder) / "memory.failcnt"
        if failcnt.is_file() and failcnt.read_text().strip() not in ("", "0"):
            return True
    return False


def remove_cgroups(cgroups: list[str]) -> None:
    """Mata lo que quede dentro de la caja y borra sus cgroups."""
    import signal
    import time

    for folder in cgroups:
        procs = Path(folder) / "cgroup.procs"
        for _ in range(50):
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        try:
            os.rmdir(folder)
        except OSError:
            pass


# --------------------------------------------------------------------------- la caja


def package_dir() -> Path:
    """La carpeta del paquete del curso que usa quien califica (la del entorno o la copia de una
    carpeta de curso): el núcleo importa esa misma (``import_path_variables``)."""
    import curso_pytorch

    return Path(curso_pytorch.__file__).resolve().parent


def import_path_variables() -> dict[str, str]:
    """``PYTHONPATH`` del núcleo: primero la carpeta que contiene el paquete de quien califica,
    para que el núcleo no importe otra copia (la instalada, si se califica desde una copia del
    curso con su propio ``curso_pytorch/``). En la caja solo se ve el paquete, no lo que lo rodea."""
    parent = str(package_dir().parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != parent]
    return {"PYTHONPATH": os.pathsep.join([parent, *rest])}


def _readonly_paths() -> list[str]:
    """Lo que el núcleo necesita leer: sistema, Python, entorno virtual y paquete del curso."""
    paths = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/sys"]
    paths += [sys.base_prefix, sys.prefix, str(package_dir())]
    # El python del entorno virtual puede ser un enlace a otra instalación.
    paths.append(str(Path(sys.executable).resolve().parents[1]))
    return paths


def thread_variables(limits: Limits) -> dict[str, str]:
    """Con cuota de CPU, tantos hilos de cálculo como núcleos tiene la caja: más hilos que
    núcleos solo hacen que el planificador los frene. Si quien califica ya pidió menos
    (``OMP_NUM_THREADS``, p. ej. porque comparte la máquina con otros trabajos), se respeta: con la
    CPU ocupada, dos hilos por núcleo de Jupyter hacen los pasos pequeños varias veces más lentos."""
    if limits.cpus <= 0:
        return {}
    threads = max(1, int(limits.cpus))
    inherited = os.environ.get("OMP_NUM_THREADS", "")
    if inherited.isdigit() and int(inherited) > 0:
        threads = min(threads, int(inherited))
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def bubblewrap_args(workdir: Path, runtime_dir: Path, data_dir: Path | None) -> list[str]:
    # Aquí y no arriba: el lanzador de la caja no debe importar torch (lo importa la capa de datos).
    from .data import DATA_DIR_ENV, MIRROR_ENV

    # El /tmp privado va primero: lo que se monte después encima (un entorno virtual o un curso
    # que vivan en /tmp) sigue visible.
    args = ["bwrap", "--die-with-parent", "--unshare-all", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    seen = set()
    for path in _readonly_paths():
        if path not in seen and Path(path).exists():
            seen.add(path)
            args += ["--ro-bind", path, path]
    for device in sorted(Path("/dev").glob("nvidia*")):  # la GPU, si la hay
        args += ["--dev-bind", str(device), str(device)]
    if data_dir is not None and data_dir.is_dir():
        args += ["--ro-bind", str(data_dir), str(data_dir), "--setenv", DATA_DIR_ENV, str(data_dir)]
    args += ["--bind", str(runtime_dir), str(runtime_dir), "--bind", str(workdir), str(workdir)]
    home = "/tmp/casa"
    args += ["--dir", home, "--setenv", "HOME", home, "--setenv", "MPLCONFIGDIR", f"{home}/.matplotlib"]
    args += ["--setenv", "IPYTHONDIR", f"{home}/.ipython", "--setenv", "TMPDIR", "/tmp"]
    # Con --unshare-pid el núcleo no ve a su padre: sin esta variable no se cierra solo.
    args += ["--unsetenv", "JPY_PARENT_PID", "--unsetenv", MIRROR_ENV]
    # Dentro, el alumno es «nobody» y no ve las contraseñas del sistema.
    args += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL"]
    for secret in ("/etc/shadow", "/etc/gshadow"):
        if Path(secret).exists():
            args += ["--ro-bind", "/dev/null", secret]
    args += ["--chdir", str(workdir)]
    return args


def launcher_command(spec: dict, command: list[str]) -> list[str]:
    return [sys.executable, "-m", "curso_pytorch.sandbox", json.dumps(spec), "--", *command]


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("uso: python -m curso_pytorch.sandbox LÍMITES -- ORDEN...")
    spec = json.loads(argv[0])
    apply_limits(spec)
    os.environ.update(spec.get("env", {}))
    # Lo que el núcleo escribe en su propia consola no es parte del cuaderno: fuera.
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    if sys.platform == "win32":
        raise SystemExit(subprocess.call(argv[2:]))
    os.execvp(argv[2], argv[2:])


# --------------------------------------------------------------------------- núcleo en la caja

from jupyter_client.manager import AsyncKernelManager  # noqa: E402

from . import forked_kernels  # noqa: E402

# Por qué no se pudo usar el proceso de origen en este proceso (desde entonces, núcleos de siempre).
_FORK_PROBLEM: list[str] = []
_FORK_PROBLEM_TOLD: list[str] = []


def fork_problem_notice() -> str | None:
    """Un aviso para quien califica, una vez por proceso, si los núcleos ya no nacen del proceso de
    origen (``forked_kernels``): la calificación sigue, igual de aislada, pero más lenta."""
    if not _FORK_PROBLEM or _FORK_PROBLEM_TOLD:
        return None
    _FORK_PROBLEM_TOLD.append(_FORK_PROBLEM[0])
    return (f"AVISO: los núcleos se arrancan sin el proceso de origen ({_FORK_PROBLEM[0]}); la calificación "
            "sigue igual de aislada, pero cada núcleo vuelve a importar torch")


atexit.register(forked_kernels.close_origin)


class SandboxKernelManager(AsyncKernelManager):
    """Un núcleo de Jupyter dentro de la caja (o solo con límites donde no hay bubblewrap).

    Quien lo crea fija ``limits`` y ``course_data_dir``; ``cgroups`` queda con lo creado para poder
    diagnosticar (memoria) y limpiar al terminar (``release_sandbox``).
    """

    limits = Limits()
    course_data_dir: Path | None = None
    background = False  # arrancado de antemano: solo la CPU que sobra (hasta ``to_foreground``)
    fork_kernels = True  # el núcleo nace del proceso de origen (``forked_kernels``) si se puede
    preload_modules: list[str] = []  # lo que importa el laboratorio: el proceso de origen ya lo trae

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cgroups: list[str] = []
        self.isolated = bubblewrap_problem() is None
        self.forked = False  # ¿el núcleo nació del proceso de origen?
        self._fork = None
        self._runtime = Path(__import__("tempfile").mkdtemp(prefix="curso-nucleo-"))
        if self.isolated:
            # Sin red: nbgrader y el núcleo se hablan por sockets IPC en una carpeta propia.
            self.transport = "ipc"
            self.connection_file = str(self._runtime / "kernel.json")
            self.ip = str(self._runtime / "kernel-ipc")

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        workdir = Path(self._launch_args.get("cwd") or os.getcwd()).resolve()
        spec = {"limits": asdict(self.limits), "cgroups": []}
        # RLIMIT_AS rompe CUDA (reserva mucho espacio de direcciones): solo sin GPU.
        spec["address_space_limit"] = not any(Path("/dev").glob("nvidia[0-9]*"))
        if is_root():
            self.cgroups = make_cgroups(self.limits, background=self.background)
            spec["cgroups"] = self.cgroups
        # PYTHONSAFEPATH: la carpeta de trabajo no entra en sys.path (un ipykernel_launcher.py o un
        # torch.py que dejara allí el alumno no sustituye al de verdad).
        spec["env"] = {**thread_variables(self.limits), **import_path_variables(), "PYTHONSAFEPATH": "1"}
        self._fork = None
        if self.isolated:
            # Las señales de fuera no llegan al núcleo en su espacio de PID: se interrumpe
            # con un mensaje y es el propio núcleo quien se manda SIGINT.
            self.kernel_spec.interrupt_mode = "message"
            box = bubblewrap_args(workdir, self._runtime, self.course_data_dir)
            arguments = forked_kernels.kernel_arguments(command)
            if self.fork_kernels and arguments is not None and not _FORK_PROBLEM:
                holder = forked_kernels.holder_command(self._runtime)
                self._fork = {"argv": arguments, "spec": spec, "workdir": str(workdir), "fifo": holder[-1],
                              "holder": holder, "classic": launcher_command(spec, box + command)}
                return launcher_command(spec, box + holder)
            command = box + command
        return launcher_command(spec, command)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        """Lanza la caja; si su orden es el guardián, el núcleo nace en ella del proceso de origen
        (``forked_kernels``). Si eso falla, la caja se tira y se arranca el núcleo de siempre."""
        await super()._async_launch_kernel(kernel_cmd, **kw)
        fork, self._fork = self._fork, None
        if fork is None:
            return
        process = self.provisioner.process
        try:
            holder = forked_kernels.find_holder(process.pid, fork["holder"])
            origin = forked_kernels.origin_for({**os.environ, **fork["spec"]["env"]},
                                               forked_kernels.preimportable(self.preload_modules))
            origin.spawn({"holder": holder, "command": fork["holder"],
                          **{k: fork[k] for k in ("argv", "spec", "workdir", "fifo")}})
            self.forked = True
            return
        except (forked_kernels.ForkError, OSError) as error:
            _FORK_PROBLEM.append(str(error))
            self.log.warning("los núcleos se arrancan sin el proceso de origen: %s", error)
        if process.poll() is None:
            process.kill()
        process.wait()
        await super()._async_launch_kernel(fork["classic"], **kw)

    def to_foreground(self) -> None:
        """El núcleo arrancado de antemano empieza a servir a su entrega: con toda su CPU."""
        self.background = False
        to_foreground(self.cgroups)

    def release_sandbox(self) -> None:
        remove_cgroups(self.cgroups)
        shutil.rmtree(self._runtime, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
