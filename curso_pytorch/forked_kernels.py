"""Núcleos que nacen con torch ya importado: un proceso de origen por corrector y laboratorio.

Arrancar el núcleo de una entrega cuesta unos 2 s de CPU (importar torch, ipykernel y los módulos
del laboratorio). Aquí se pagan una vez: el proceso de origen (``python -m
curso_pytorch.forked_kernels``) los importa y, para cada entrega, se duplica (``fork``). La copia
entra en la caja que bubblewrap ya montó para esa entrega y allí se convierte en su núcleo:

1. quien califica lanza la caja de siempre (``sandbox.bubblewrap_args``, con sus límites y
   cgroups), pero con una orden que solo espera: el *guardián* (``HOLDER``). Se le reconoce por su
   orden exacta, que solo tiene después de ``exec``, cuando la caja ya está montada;
2. el proceso de origen crea un hijo intermedio que entra en el espacio de PID de la caja y crea el
   núcleo, que entra en los demás espacios de nombres del guardián (usuario, montajes, red, IPC,
   nombre de máquina, cgroups): ve exactamente lo que ve el guardián, nada más;
3. antes de ejecutar nada del alumno, el núcleo abre una sesión propia (no comparte grupo de
   procesos con nadie de fuera), cierra todos los descriptores heredados, toma el entorno del
   guardián, aplica los límites de la entrega, se queda como ``nobody`` sin capacidades y con
   ``no_new_privs``, y lo comprueba en ``/proc/self/status``; si algo no cuadra, no arranca;
4. cuando el núcleo termina, el intermedio le pasa al guardián cómo terminó (código o señal) por
   una FIFO que abrió y borró antes de que existiera el núcleo (desde la caja no se puede abrir), y
   el guardián termina igual: para quien califica, la caja acaba como acababa el núcleo de siempre.

El proceso de origen nunca ejecuta código de ningún alumno ni ve nada oculto (es un intérprete
nuevo que solo importa módulos públicos) y cada núcleo sirve a una sola entrega. Desde la caja no
se ve ni el proceso de origen ni el intermedio (están fuera de su espacio de PID), ni se les puede
mandar señales. Si algo falla (una máquina donde no se puede entrar en los espacios de nombres),
quien califica arranca el núcleo de siempre (``SandboxKernelManager``).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

from .process_limits import NOBODY, apply_limits

# Espacios de nombres del guardián, en el orden en que se entra (el de usuario, al final si se es
# root fuera: después de él ya no hay capacidades fuera de la caja).
NAMESPACES = {"mnt": 0x00020000, "net": 0x40000000, "ipc": 0x08000000, "uts": 0x04000000,
              "cgroup": 0x02000000, "user": 0x10000000}
CLONE_NEWPID = 0x20000000
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 38, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAPABILITY_VERSION_3 = 0x20080522

# El guardián: lee de su FIFO cómo terminó el núcleo y termina igual (sin importar nada). Si quien
# escribe desaparece sin decirlo, termina con el código 1.
HOLDER = (
    "import os, signal, sys\n"
    "word = open(sys.argv[1], 'rb').read().split() or [b'codigo', b'1']\n"
    "if word[0] == b'senal':\n"
    "    if int(word[1]) not in (signal.SIGKILL, signal.SIGSTOP):\n"
    "        signal.signal(int(word[1]), signal.SIG_DFL)\n"
    "    os.kill(os.getpid(), int(word[1]))\n"
    "os._exit(int(word[-1]))\n"
)
HOLDER_FIFO = "guardian.fifo"
START_SECONDS = 60  # lo que puede tardar el proceso de origen en importar torch


class ForkError(RuntimeError):
    """No se pudo crear el núcleo a partir del proceso de origen (se arranca el de siempre)."""


# --------------------------------------------------------------------------- quien califica


def holder_command(runtime_dir) -> list[str]:
    """La orden del guardián dentro de la caja; crea su FIFO en la carpeta del núcleo."""
    fifo = os.path.join(str(runtime_dir), HOLDER_FIFO)
    if not os.path.exists(fifo):
        os.mkfifo(fifo, 0o600)
    return [sys.executable, "-S", "-E", "-c", HOLDER, fifo]


def kernel_arguments(command: list[str]) -> list[str] | None:
    """Los argumentos de ipykernel si ``command`` es el núcleo de Python de este intérprete
    (``python -m ipykernel_launcher ...``); si no (otro núcleo), None: se arranca como siempre."""
    if len(command) >= 3 and command[1:3] == ["-m", "ipykernel_launcher"] and \
            os.path.realpath(command[0]) == os.path.realpath(sys.executable):
        return command[3:]
    return None


def _parents() -> dict[int, int]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    found[int(name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return found


def find_holder(bwrap_pid: int, command: list[str], seconds: float = 10.0) -> int:
    """El PID (fuera) del guardián que lanzó bubblewrap ``bwrap_pid``, cuando ya ejecuta
    ``command``: la caja está montada y su entorno es el de la caja. Antes de ``exec``, el hijo de
    bubblewrap tiene otra orden (``bwrap ...``, que también acaba con la FIFO) y otro entorno."""
    expected = b"".join(part.encode() + b"\0" for part in command)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        parents = _parents()
        inits = [p for p, parent in parents.items() if parent == bwrap_pid]
        for pid in [p for p, parent in parents.items() if parent in inits]:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if cmdline.read() == expected:
                        return pid
            except OSError:
                pass
        if bwrap_pid not in parents:
            break
        time.sleep(0.005)
    raise ForkError("la caja no llegó a lanzar su guardián")


class Origin:
    """El proceso de origen de este corrector (``python -m curso_pytorch.forked_kernels``)."""

    def __init__(self, env: dict[str, str], modules: list[str]):
        self.key = (tuple(sorted(env.items())), tuple(modules))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "curso_pytorch.forked_kernels", json.dumps(modules)],
            env=env, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.ready = False

    def _reply(self, seconds: float) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], seconds)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.close()
            raise ForkError("el proceso de origen no respondió")
        return json.loads(line)

    def spawn(self, request: dict) -> None:
        if self.process.poll() is not None:
            raise ForkError("el proceso de origen terminó")
        if not self.ready:
            self._reply(START_SECONDS)
            self.ready = True
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        reply = self._reply(20)
        if "error" in reply:
            raise ForkError(reply["error"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_ORIGIN: list[Origin] = []  # uno como mucho por proceso: el del laboratorio que se califica


def origin_for(env: dict[str, str], modules: list[str]) -> Origin:
    """El proceso de origen para este entorno y estos módulos (arranca uno nuevo si cambian)."""
    key = (tuple(sorted(env.items())), tuple(modules))
    if _ORIGIN and (_ORIGIN[0].key != key or _ORIGIN[0].process.poll() is not None):
        _ORIGIN.pop().close()
    if not _ORIGIN:
        _ORIGIN.append(Origin(env, modules))
    return _ORIGIN[0]


def close_origin() -> None:
    while _ORIGIN:
        _ORIGIN.pop().close()


def preimportable(modules: list[str]) -> list[str]:
    """Los módulos que el proceso de origen puede importar por el núcleo. matplotlib no: fija al
    importarse sus carpetas de configuración y caché según la carpeta personal, que dentro de la
    caja es otra (lo importa el núcleo, como siempre)."""
    return [m for m in modules if m.split(".")[0] != "matplotlib"]


# --------------------------------------------------------------------------- el proceso de origen


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _drop_privileges(libc) -> None:
    """Dentro de la caja: ``nobody``, sin capacidades (ni en el conjunto límite ni ambientales) y
    con ``no_new_privs``, como el núcleo que deja bubblewrap con ``--cap-drop ALL``."""
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # más allá de la última capacidad que conoce el sistema
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "capset")


def _verify_confined() -> None:
    """Lo que debe cumplir el núcleo antes de recibir una entrega; si no, no arranca."""
    status = {}
    with open("/proc/self/status") as lines:
        for line in lines:
            key, _, value = line.partition(":")
            status[key] = value.split()
    problems = [key for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") if int(status[key][0], 16) != 0]
    if status.get("NoNewPrivs") != ["1"]:
        problems.append("NoNewPrivs")
    if status.get("Uid") != [str(NOBODY)] * 4 or status.get("Gid") != [str(NOBODY)] * 4:
        problems.append("Uid/Gid")
    if status.get("Groups", []) not in ([], [str(NOBODY)]):
        problems.append("Groups")
    if os.getsid(0) != os.getpid():
        problems.append("sesión")
    if problems:
        raise OSError(f"el núcleo no quedó aislado ({', '.join(problems)})")


def _enter_box(request: dict, environment: dict, namespaces: dict, report: int, libc) -> None:
    """En el nieto (ya en el espacio de PID de la caja): entra en lo demás de la caja, se queda sin
    privilegios ni nada heredado y lo comprueba. Nada del alumno ha corrido aún."""
    os.setsid()
    apply_limits(request["spec"])  # cgroups (este PID, visto desde aquí) y límites
    if os.geteuid() == 0:
        os.setgroups([])
    order = list(NAMESPACES)
    if os.geteuid() != 0:  # sin root, las capacidades para entrar en lo demás las da el de usuario
        order = ["user", *order[:-1]]
    for name in order:  # abiertos antes: dentro de la caja, /proc ya no muestra al guardián
        _check(libc.setns(namespaces[name], NAMESPACES[name]), f"setns {name}")
        os.close(namespaces[name])
    os.chdir(request["workdir"])
    os.environ.clear()
    os.environ.update(environment)
    _drop_privileges(libc)
    _verify_confined()
    for name in os.listdir("/proc/self/fd"):  # nada heredado del proceso de origen
        if int(name) > 2 and int(name) != report:
            try:
                os.close(int(name))
            except OSError:
                pass  # el de la propia lista
    left = {int(name) for name in os.listdir("/proc/self/fd")} - {0, 1, 2, report}
    if len(left) > 1:  # solo el descriptor con el que se acaba de leer la lista
        raise OSError(f"quedan descriptores abiertos: {sorted(left)}")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # como en un intérprete nuevo
    threads = environment.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        import torch

        torch.set_num_threads(int(threads))


def _run_kernel(arguments: list[str]) -> None:
    """ipykernel, como ``python -m ipykernel_launcher ARGUMENTOS``; al terminar, sale."""
    from .quick_exit import exit_now

    sys.argv = ["ipykernel_launcher", *arguments]
    code = 1
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
    except BaseException:  # noqa: BLE001 (como un intérprete con una excepción sin capturar)
        code = 1
    finally:
        exit_now(code)


def _open_holder_fifo(path: str, seconds: float = 5.0) -> int:
    """El extremo de escritura de la FIFO del guardián, cuando él ya la abrió para leer."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: el guardián aún no la abrió
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)
            continue
        os.set_blocking(fd, True)
        return fd


def _fork_kernel(request: dict, libc) -> dict:
    """Crea el intermedio (que crea el núcleo) y devuelve la respuesta para quien califica."""
    holder = request["holder"]
    with open(f"/proc/{holder}/cmdline", "rb") as cmdline:  # el guardián ya en la caja, no bwrap
        if cmdline.read() != b"".join(part.encode() + b"\0" for part in request["command"]):
            return {"error": "ese proceso no es el guardián de la caja"}
    with open(f"/proc/{holder}/environ", "rb") as raw:
        environment = dict(item.split(b"=", 1) for item in raw.read().split(b"\0") if b"=" in item)
    environment = {k.decode(): v.decode() for k, v in environment.items()}
    holder_fd = os.pidfd_open(holder)  # para matarlo sin riesgo de que su PID ya sea de otro
    pid_ns = os.open(f"/proc/{holder}/ns/pid", os.O_RDONLY)
    read_end, write_end = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:  # el intermedio: sin las tuberías de quien califica
        code = 1
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(read_end)
            fifo = _open_holder_fifo(request["fifo"])
            os.unlink(request["fifo"])  # desde la caja ya no se puede abrir
            _check(libc.setns(pid_ns, CLONE_NEWPID), "setns pid")
            kernel = os.fork()
            if kernel == 0:
                try:
                    namespaces = {name: os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY) for name in NAMESPACES}
                    _enter_box(request, environment, namespaces, write_end, libc)
                except BaseException as error:  # noqa: BLE001 (se informa y no arranca)
                    os.write(write_end, json.dumps({"error": str(error)}).encode() + b"\n")
                    os._exit(70)
                os.write(write_end, b"{}\n")
                os.close(write_end)
                _run_kernel(request["argv"])
            os.close(write_end)
            _, status = os.waitpid(kernel, 0)
            word = f"senal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"codigo {os.waitstatus_to_exitcode(status)}"
            os.write(fifo, word.encode())
            os.close(fifo)
            code = 0
            if not select.select([holder_fd], [], [], 2)[0]:  # el guardián no terminó: fuera
                signal.pidfd_send_signal(holder_fd, signal.SIGKILL)
        except BaseException:  # noqa: BLE001
            signal.pidfd_send_signal(holder_fd, signal.SIGKILL)
        finally:
            os._exit(code)
    os.close(write_end)
    os.close(pid_ns)
    os.close(holder_fd)
    with os.fdopen(read_end, "rb") as report:
        line = report.readline()
    return json.loads(line) if line else {"error": "el núcleo no llegó a arrancar"}


def main(argv: list[str]) -> None:
    libc = _libc()
    # Sin PR_SET_PDEATHSIG (salta al terminar el hilo que lo lanzó, no el proceso): si muere quien
    # califica, su tubería se cierra y este proceso termina al leer el final.
    import ipykernel.kernelapp  # noqa: F401
    import torch  # noqa: F401

    import curso_pytorch.integrity  # noqa: F401

    from .integrity import preload

    preload(json.loads(argv[0]) if argv else [])
    out = sys.stdout.buffer
    out.write(b'{"listo": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        while True:  # los intermedios que ya terminaron
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        try:
            reply = _fork_kernel(json.loads(line), libc)
        except Exception as error:  # noqa: BLE001
            reply = {"error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
