"""CIFAR-10 sin conexión: la copia en JPEG de las 60 000 imágenes reales, decodificada al formato
``cifar-10-batches-py``.

El archivo oficial (``cifar-10-python.tar.gz``) no siempre se puede descargar (máquinas sin
internet, CI). Un espejo local (``CURSO_DATA_MIRROR``) puede tener en su lugar
``cifar10-jpeg/cifar10_jpeg.tar.gz``: las imágenes reales de CIFAR-10 con la partición oficial,
codificadas una vez en JPEG (``train/<clase>/NNNN.jpg`` y ``test/<clase>/NNNN.jpg``). Este módulo
verifica su md5 y lo decodifica en la caché con el formato exacto de ``cifar-10-batches-py``
(pickles de Python 2, cinco lotes de entrenamiento de 10 000 imágenes y uno de prueba), de modo
que el código de carga real (el del curso y el ``CIFAR10`` de torchvision) lee imágenes reales.
``batches.meta`` declara, en la clave ``copia_jpeg``, que es una copia decodificada de JPEG.

Los píxeles difieren un poco de los oficiales (una compresión JPEG), así que los md5 oficiales no
valen: junto a cada archivo escrito queda su md5 (``<archivo>.md5``), que la capa de datos
comprueba en cada carga, como con los archivos no oficiales de un espejo.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np

from .locks import file_lock

ARCHIVE = "cifar10-jpeg/cifar10_jpeg.tar.gz"
ARCHIVE_MD5 = "ac56889bfb63ff38250a58e9024b027b"
FOLDER = "cifar-10-batches-py"
LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS = {"train": 5000, "test": 1000}
PER_BATCH = 10_000
SHUFFLE_KEY = b"cifar10-jpeg"  # el orden de las imágenes en los lotes depende solo de su nombre
NOTE_KEY = "copia_jpeg"
NOTE = ("Copia decodificada de JPEG: las 60 000 imágenes reales de CIFAR-10 (partición oficial), "
        "codificadas una vez en JPEG; los píxeles difieren un poco de los oficiales.")


class ArchiveError(ValueError):
    """El archivo de JPEG no tiene el contenido esperado. El mensaje dice qué falla."""


# --------------------------------------------------------------------------- pickles de Python 2


class Py2Str(bytes):
    """Una ``str`` de Python 2: se escribe con los códigos BINSTRING, como en los originales."""


class Py2Pickler(pickle._Pickler):
    """Escribe pickles como los de ``cifar-10-batches-py`` (Python 2, protocolo 2)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        data = bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    def save_ndarray(self, arr):
        """Un ndarray uint8 tal como lo escribía numpy en Python 2."""
        assert arr.dtype == np.uint8 and arr.flags.c_contiguous
        self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
        self.write(pickle.GLOBAL + b"numpy\nndarray\n")
        self.save((0,))
        self.save(Py2Str(b"b"))
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        self.write(pickle.MARK)
        self.save(1)
        self.save(tuple(arr.shape))
        self.write(pickle.GLOBAL + b"numpy\ndtype\n")
        self.save(Py2Str(b"u1"))
        self.save(0)
        self.save(1)
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        self.write(pickle.MARK)
        for item in (3, Py2Str(b"|"), None, None, None, -1, -1, 0):
            self.save(item)
        self.write(pickle.TUPLE + pickle.BUILD)
        self.save(False)
        self.save(Py2Str(arr.tobytes()))
        self.write(pickle.TUPLE + pickle.BUILD)

    dispatch[Py2Str] = save_py2str
    dispatch[np.ndarray] = save_ndarray


def dump_py2(obj, path: Path) -> str:
    """Escribe ``obj`` en ``path`` como un pickle de Python 2. Devuelve el md5 de lo escrito."""
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    payload = buffer.getvalue()
    with open(path, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.md5(payload).hexdigest()


# --------------------------------------------------------------------------- lectura del archivo


def _shuffle_key(name: str) -> bytes:
    return hashlib.md5(SHUFFLE_KEY + b"/" + name.encode()).digest()


def read_archive(archive: Path) -> dict[str, tuple[np.ndarray, list[int], list[str]]]:
    """Decodifica el archivo: por partición, (píxeles (N, 3072) uint8 canal-fila-columna,
    etiquetas, nombres de los miembros), en un orden mezclado entre clases y reproducible."""
    from PIL import Image

    members: dict[str, list[tuple[str, int, bytes]]] = {"train": [], "test": []}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].endswith(".jpg"):
                continue  # carpetas y el README del archivo
            split, label_name, _ = parts
            if split not in members or label_name not in LABEL_NAMES:
                raise ArchiveError(f"miembro inesperado {member.name!r}")
            members[split].append((member.name, LABEL_NAMES.index(label_name), tar.extractfile(member).read()))
    result = {}
    for split, entries in members.items():
        counts = np.bincount([label for _, label, _ in entries], minlength=len(LABEL_NAMES))
        if counts.tolist() != [PER_CLASS[split]] * len(LABEL_NAMES):
            raise ArchiveError(f"la partición {split} tiene {counts.tolist()} imágenes por clase; "
                               f"se esperaban {PER_CLASS[split]}")
        entries.sort(key=lambda entry: _shuffle_key(entry[0]))
        pixels = np.empty((len(entries), 3, 32, 32), dtype=np.uint8)
        for i, (name, _, jpeg) in enumerate(entries):
            with Image.open(io.BytesIO(jpeg)) as image:
                if image.size != (32, 32):
                    raise ArchiveError(f"{name} mide {image.size}, no 32×32")
                pixels[i] = np.asarray(image.convert("RGB")).transpose(2, 0, 1)
        result[split] = (pixels.reshape(len(entries), 3072), [label for _, label, _ in entries],
                         [name for name, _, _ in entries])
    return result


def write_batches(decoded, folder: Path) -> dict[str, str]:
    """Escribe los lotes y ``batches.meta`` en ``folder``. Devuelve nombre -> md5."""
    written = {}
    train_x, train_y, train_names = decoded["train"]
    for i in range(len(train_y) // PER_BATCH):
        part = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        written[f"data_batch_{i + 1}"] = _write_batch(
            folder / f"data_batch_{i + 1}", f"training batch {i + 1} of 5",
            train_x[part], train_y[part], train_names[part])
    test_x, test_y, test_names = decoded["test"]
    written["test_batch"] = _write_batch(folder / "test_batch", "testing batch 1 of 1", test_x, test_y, test_names)
    meta = {
        Py2Str(b"num_cases_per_batch"): PER_BATCH,
        Py2Str(b"label_names"): [Py2Str(name.encode()) for name in LABEL_NAMES],
        Py2Str(b"num_vis"): 3072,
        Py2Str(NOTE_KEY.encode()): NOTE,  # texto con tildes: unicode de Python 2 (BINUNICODE)
    }
    written["batches.meta"] = dump_py2(meta, folder / "batches.meta")
    return written


def _write_batch(path: Path, label: str, pixels: np.ndarray, labels, names) -> str:
    entry = {
        Py2Str(b"batch_label"): Py2Str(label.encode()),
        Py2Str(b"labels"): [int(v) for v in labels],
        Py2Str(b"data"): np.ascontiguousarray(pixels),
        Py2Str(b"filenames"): [Py2Str(name.encode()) for name in names],
    }
    return dump_py2(entry, path)


# --------------------------------------------------------------------------- construcción en la caché


def find_archive(mirrors) -> Path | None:
    """El primer ``cifar10-jpeg/cifar10_jpeg.tar.gz`` de los espejos, o ``None``."""
    for mirror in mirrors:
        candidate = Path(mirror) / ARCHIVE
        if candidate.is_file():
            return candidate
    return None


def build(archive: Path, cache: Path, md5sum, corrupt_error=ArchiveError) -> Path:
    """Deja ``cache/cifar-10-batches-py`` decodificado de ``archive`` (si no estaba ya).

    Verifica antes el md5 del archivo (``md5sum`` es la función de la capa de datos; un archivo
    corrupto o truncado lanza ``corrupt_error`` con un mensaje en español). Escribe en una carpeta
    parcial y la renombra al terminar, con un cerrojo: dos procesos que construyen a la vez no se
    estropean (el segundo espera y encuentra la carpeta hecha). Cada archivo escrito lleva su md5
    al lado (``.md5``). Devuelve la carpeta.
    """
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / FOLDER
    with file_lock(cache / f".{FOLDER}.cerrojo"):
        if target.exists():
            return target
        if md5sum(archive) != ARCHIVE_MD5:
            raise corrupt_error(
                f"El archivo {archive} del espejo local está corrupto o truncado (su md5 no coincide "
                f"con {ARCHIVE_MD5}). No se usará: repara el espejo o quita ese archivo.")
        try:
            decoded = read_archive(archive)
        except (ArchiveError, tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise corrupt_error(f"No se pudo decodificar CIFAR-10 de {archive}: {error}.") from None
        partial = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.parcial-", dir=cache))
        try:
            os.chmod(partial, 0o755)  # mkdtemp la crea solo para su dueño
            for name, md5 in write_batches(decoded, partial).items():
                (partial / f"{name}.md5").write_text(md5 + "\n")
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return target
