"""Sustituto de CIFAR-10 para pruebas sin conexión (vive solo en tests/).

CIFAR-10 real no se puede descargar aquí. Este módulo escribe, a partir de imágenes reales de
MNIST, una carpeta ``cifar-10-batches-py`` con el formato exacto de la original: pickles de
Python 2 (claves ``str`` de Python 2, ``data`` como ``numpy.ndarray`` uint8 de forma
(n, 3072) en orden canal-fila-columna, ``labels`` como lista de enteros) y ``batches.meta``.
Así la capa de datos del curso ejecuta su código real de carga. ``batches.meta`` declara que es
un sustituto y sus clases son dígitos: nunca se presenta como CIFAR-10.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import torch


class Py2Str(bytes):
    """Una ``str`` de Python 2: se escribe con los códigos BINSTRING, como en los originales."""


class Py2Pickler(pickle._Pickler):
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


def _dump(obj, path: Path) -> None:
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)


def _to_cifar_rows(images: torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """(n, 1, 28, 28) uint8 -> (n, 3072) uint8: 32x32 con relleno y un tinte de color por imagen."""
    padded = torch.nn.functional.pad(images.float(), (2, 2, 2, 2))
    tint = 0.4 + 0.6 * torch.rand(images.shape[0], 3, 1, 1, generator=generator)
    rgb = (padded * tint).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(rgb.reshape(images.shape[0], 3072).numpy())


def build(mirror: Path, mnist_root: Path, per_batch: int = 2000, seed: int = 0) -> Path:
    """Escribe ``mirror/cifar-10-batches-py`` y su ``checksums.json``. Devuelve ``mirror``."""
    from curso_pytorch.data import load_mnist

    folder = Path(mirror) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = load_mnist("train", subset=5 * per_batch, seed=seed, root=mnist_root)
    test_x, test_y = load_mnist("test", subset=per_batch, seed=seed, root=mnist_root)
    order = torch.randperm(len(train_y), generator=generator)
    train_x, train_y = train_x[order], train_y[order]
    batches = {f"data_batch_{i + 1}": slice(i * per_batch, (i + 1) * per_batch) for i in range(5)}
    for name, part in batches.items():
        _write_batch(folder / name, f"training batch {name[-1]} of 5", train_x[part], train_y[part], generator)
    _write_batch(folder / "test_batch", "testing batch 1 of 1", test_x, test_y, generator)
    meta = {
        Py2Str(b"num_cases_per_batch"): per_batch,
        Py2Str(b"label_names"): [Py2Str(f"digito_{d}".encode()) for d in range(10)],
        Py2Str(b"num_vis"): 3072,
        Py2Str(b"sustituto"): Py2Str(b"digitos de MNIST en formato cifar-10-batches-py"),
    }
    _dump(meta, folder / "batches.meta")
    checksums = {
        f"cifar-10-batches-py/{p.name}": hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
    }
    (Path(mirror) / "checksums.json").write_text(json.dumps(checksums, indent=1))
    return Path(mirror)


def _write_batch(path: Path, label: str, images, labels, generator) -> None:
    rows = _to_cifar_rows(images, generator)
    entry = {
        Py2Str(b"batch_label"): Py2Str(label.encode()),
        Py2Str(b"labels"): [int(v) for v in labels],
        Py2Str(b"data"): rows,
        Py2Str(b"filenames"): [Py2Str(f"standin_{i:05d}.png".encode()) for i in range(len(labels))],
    }
    _dump(entry, path)
