"""El juez: decide los puntos de una celda de pruebas fuera del núcleo del alumno.

Una celda de pruebas convertida tiene, dentro de su bloque oculto, una línea ``### JUEZ``:

    <pruebas visibles>                 (núcleo del alumno: solo le informan)
    ### BEGIN HIDDEN TESTS
    <sonda>                            (núcleo del alumno: llama a su código y guarda datos)
    ### JUEZ
    <juez>                             (aquí: lee los datos, calcula referencias y compara)
    ### END HIDDEN TESTS

Al núcleo solo llega lo que no es juez. Después de la celda, quien califica lee los archivos de la
sonda (sin seguir enlaces, con límites de tamaño, ``torch.load(weights_only=True)``: nada del alumno
se carga como un objeto cualquiera ni se ejecuta) y ejecuta el juez en su propio proceso, en el que nunca
corrió código del alumno. Las referencias se calculan aquí, en el mismo dispositivo, y se guardan en
una caché junto al libro de calificaciones (``.referencias/``): una clase cuesta una referencia por
laboratorio, no una por alumno.

El espacio de nombres del juez (uno por cuaderno, compartido por sus celdas) ofrece ``data`` (los
datos de la celda), ``check``, ``close``, ``scalar_close``, ``reference(nombre, función)``,
``forbid(respuesta, nombres)``, ``device``, ``torch`` y ``F``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import warnings
from pathlib import Path

import torch

from .checks import CheckFailed, check, close, scalar_close
from .course import GradingSetupError
from .data import DatasetUnavailableError
from .locks import file_lock
from .notebook import best_device
from .probe import ERROR, KEY
from .student_code import forbidden_uses

PROBE_FOLDER = ".sondas"
MAX_FILE_BYTES = 64 * 2**20    # un archivo de la sonda
MAX_TOTAL_BYTES = 256 * 2**20  # todos los de una celda
MAX_FILES = 200


def probe_prefix(folder: Path) -> str:
    """Primera línea de la celda en el núcleo: la sonda escribirá en ``folder``."""
    return f"import curso_pytorch.probe as _probe; _probe.start({str(folder)!r})\n"


# --------------------------------------------------------------------------- datos de la sonda

class Invalid:
    """Un archivo de la sonda que no se pudo leer (el motivo, para el alumno)."""

    def __init__(self, why: str):
        self.why = why


def _read(path: Path, budget: int):
    """Un archivo de la sonda: sin seguir enlaces, regular y dentro del tamaño."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return Invalid("no se pudo abrir (¿un enlace?)"), 0
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Invalid("no es un archivo normal"), 0
        if info.st_size > min(MAX_FILE_BYTES, budget):
            return Invalid(f"ocupa {info.st_size // 2**20} MB, más de lo permitido"), info.st_size
        try:
            with warnings.catch_warnings():  # el protocolo de pickle lo eligió el núcleo del alumno
                warnings.simplefilter("ignore")
                return torch.load(handle, map_location="cpu", weights_only=True), info.st_size
        except Exception as error:  # datos del alumno que no son tensores ni contenedores simples
            return Invalid(f"no contiene solo tensores y valores simples ({type(error).__name__})"), info.st_size


def fresh_outbox(workdir: Path, name: str) -> Path:
    """La carpeta vacía donde dejará sus datos la sonda de la celda ``name``, dentro de la carpeta
    de trabajo del núcleo. Lo que haya dejado allí el código del alumno (también un enlace en lugar
    de la carpeta) se quita sin seguirlo."""
    base = workdir / PROBE_FOLDER
    for path in (base, base / name):
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.is_dir() and path != base:
            shutil.rmtree(path)
    base.mkdir(exist_ok=True)
    return base / name


def _inside(folder: Path, workdir: Path) -> bool:
    """``folder`` está de verdad dentro de ``workdir``: ningún tramo es un enlace."""
    relative = folder.relative_to(workdir)
    current = workdir
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            return False
    return True


def read_outbox(folder: Path, workdir: Path | None = None) -> dict:
    """Los datos que dejó la sonda en ``folder``: clave -> valor (o ``Invalid``). Con ``workdir``,
    nada si algún tramo entre las dos carpetas es un enlace (lo habría puesto el alumno)."""
    found, budget = {}, MAX_TOTAL_BYTES
    if not folder.is_dir() or folder.is_symlink() or (workdir is not None and not _inside(folder, workdir)):
        return found
    for path in sorted(folder.iterdir())[:MAX_FILES]:
        key = path.name[:-3] if path.name.endswith(".pt") else ""
        if not KEY.fullmatch(key):
            continue
        found[key], size = _read(path, budget)
        budget -= size
    return found


class Data:
    """Los datos de una celda para el juez: ``data["clave"]`` o un fallo con el motivo."""

    def __init__(self, values: dict):
        self._values = values

    def __contains__(self, key) -> bool:
        return key in self._values

    def __getitem__(self, key):
        if key not in self._values:
            raise CheckFailed(f"no llegaron los datos de «{key}» (¿la celda se interrumpió antes?)")
        value = self._values[key]
        if isinstance(value, Invalid):
            raise CheckFailed(f"los datos de «{key}» no son válidos: {value.why}")
        if isinstance(value, dict) and set(value) == {ERROR}:
            raise CheckFailed(str(value[ERROR]))
        return value


# --------------------------------------------------------------------------- referencias

class References:
    """Caché de referencias por laboratorio, nombre, código del juez, dispositivo y versiones, en
    memoria y en ``<curso>/.referencias/`` (segura con varios procesos: cerrojo por archivo)."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.memory: dict[str, object] = {}

    def get(self, key_parts: tuple, compute):
        key = hashlib.sha256(repr(key_parts).encode()).hexdigest()[:32]
        if key in self.memory:
            return self.memory[key]
        if self.folder is None:
            value = compute()
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{key}.pt"
            with file_lock(self.folder / f"{key}.lock"):
                if path.is_file():
                    value = torch.load(path, map_location="cpu", weights_only=True)
                else:
                    value = compute()
                    partial = path.with_suffix(".parcial")
                    torch.save(value, partial)
                    partial.replace(path)
        self.memory[key] = value
        return value


_CACHES: dict[Path | None, References] = {}


def references(folder: Path | None) -> References:
    if folder not in _CACHES:
        _CACHES[folder] = References(folder)
    return _CACHES[folder]


# --------------------------------------------------------------------------- el juez

class Judge:
    """El juez de un cuaderno: ejecuta el código de juez de sus celdas, en orden, con un espacio de
    nombres propio."""

    def __init__(self, lab: str, statements, cache: References):
        self.lab = lab
        self.statements = statements
        self.cache = cache
        self.device = best_device()
        self.namespace: dict = {}

    def _namespace(self, grade_id: str, judge_source: str, values: dict) -> dict:
        version = (torch.__version__, self.device.type)

        def reference(name: str, compute):
            """El resultado de ``compute()`` (referencias: tensores y valores simples), calculado una
            vez por laboratorio, prueba, código del juez, dispositivo y versión de PyTorch."""
            return self.cache.get((self.lab, grade_id, name, judge_source, version), compute)

        def forbid(answer: str, names, answer_only=()):
            uses = forbidden_uses(self.statements, answer, names, answer_only)
            if uses:
                raise CheckFailed(uses[0])

        import torch.nn.functional as functional

        self.namespace.update(data=Data(values), check=check, close=close, scalar_close=scalar_close,
                              CheckFailed=CheckFailed, reference=reference, forbid=forbid, device=self.device,
                              torch=torch, F=functional)
        return self.namespace

    def run(self, grade_id: str, judge_source: str, values: dict) -> str | None:
        """El motivo del fallo de la celda ``grade_id`` (o None si el juez la da por buena)."""
        namespace = self._namespace(grade_id, judge_source, values)
        try:
            exec(compile(judge_source, f"<juez de {grade_id}>", "exec"), namespace)
        except CheckFailed as failure:
            return str(failure)
        except DatasetUnavailableError as error:  # la instalación de quien califica, no el alumno
            raise GradingSetupError(f"No se califica: el juez de {grade_id} no pudo leer los datos de las "
                                    f"pruebas ({str(error).splitlines()[0]}); no se ha escrito ninguna nota.") from None
        except Exception as error:  # fuera de check(): un fallo del propio juez, no del alumno
            return (f"el juez de esta celda falló ({type(error).__name__}: {str(error)[:300]}); "
                    "avise al profesor: la celda debe calificarse a mano")
        return None
