"""Capa de datos: espejo, caché, md5, archivos truncados, error sin conexión, subconjuntos y el
formato cifar-10-batches-py (leído a través del sustituto de pruebas)."""

from __future__ import annotations

import gzip
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from curso_pytorch import data


@pytest.fixture
def no_network(monkeypatch):
    """Cualquier intento de conexión falla al instante, como en una máquina sin internet."""

    def refuse(*args, **kwargs):
        raise OSError("red desactivada en la prueba")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def fresh_root(tmp_path):
    return tmp_path / "cache"


def test_mirror_fills_cache_with_verified_files(fresh_root, offline_data):
    x, y = data.load_mnist("test", root=fresh_root)
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (10_000,) and y.dtype == torch.int64
    for name, md5 in data.MNIST_FILES.items():
        assert data.md5sum(fresh_root / "MNIST" / "raw" / name) == md5


def test_cache_alone_is_enough(fresh_root, offline_data, monkeypatch, no_network):
    data.load_mnist("test", root=fresh_root)
    data._RAW_CACHE.clear()
    monkeypatch.setenv("CURSO_DATA_MIRROR", "")
    x, _ = data.load_mnist("train", root=fresh_root)
    assert len(x) == 60_000


def test_corrupt_cached_file_is_reported_and_not_used(fresh_root, offline_data):
    data.load_mnist("test", root=fresh_root)
    data._RAW_CACHE.clear()
    victim = fresh_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.raises(data.CorruptFileError, match="corrupto o truncado"):
        data.load_mnist("test", root=fresh_root)


def test_truncated_mirror_file_is_reported_and_never_copied(tmp_path, fresh_root, mnist_mirror, monkeypatch, no_network):
    mirror = tmp_path / "espejo"
    shutil.copytree(mnist_mirror / "MNIST", mirror / "MNIST")
    victim = mirror / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:100_000])
    monkeypatch.setenv("CURSO_DATA_MIRROR", str(mirror))
    with pytest.raises(data.CorruptFileError, match="espejo local"):
        data.load_mnist("train", root=fresh_root)
    assert not (fresh_root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()


def test_truncated_idx_payload_is_detected(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path.write_bytes(gzip.compress(header + bytes(28 * 28 * 4)))  # falta una imagen
    with pytest.raises(data.CorruptFileError, match="truncado"):
        data._read_idx(path)


def test_offline_without_mirror_gives_one_clear_spanish_message(fresh_root, monkeypatch, no_network):
    monkeypatch.setenv("CURSO_DATA_MIRROR", "")
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load_mnist("train", root=fresh_root)
    message = str(info.value)
    assert "No se pudo obtener el conjunto de datos MNIST" in message
    assert "no hay conexión a internet" in message
    assert "CURSO_DATA_MIRROR" in message
    # En Jupyter se muestra solo el mensaje, sin la pila de llamadas.
    rendered = "\n".join(info.value._render_traceback_())
    assert "Traceback" not in rendered and "No se pudo obtener" in rendered


def test_cli_reports_offline_error_without_traceback(tmp_path, monkeypatch, capsys, no_network):
    from curso_pytorch import cli

    monkeypatch.setenv("CURSO_DATA_MIRROR", "")
    monkeypatch.setenv("CURSO_DATA_DIR", str(tmp_path / "vacia"))
    code = cli.main(["--curso", str(Path(__file__).resolve().parents[1]), "datos"])
    out = capsys.readouterr()
    assert code == 1
    assert "mnist: No se pudo obtener" in out.out and "cifar10: No se pudo obtener" in out.out
    assert "Traceback" not in out.out + out.err


def test_stratified_subset_is_reproducible_and_balanced(offline_data):
    a, ya = data.load_mnist("train", subset=1000, seed=3)
    b, yb = data.load_mnist("train", subset=1000, seed=3)
    c, yc = data.load_mnist("train", subset=1000, seed=4)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)
    _, full = data.load_mnist("train")
    expected = torch.bincount(full).double() * 1000 / len(full)
    assert ((torch.bincount(ya).double() - expected).abs() <= 1).all()
    assert len(ya) == 1000


def test_float_and_normalized_images(offline_data):
    x, _ = data.load_mnist("train", subset=5000, as_float=True)
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    z, _ = data.load_mnist("train", subset=5000, normalize=True)
    assert z.dtype == torch.float32
    assert abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05


def test_returned_tensors_are_private_copies(offline_data):
    x, y = data.load_mnist("test")
    x.zero_()
    y.fill_(3)
    x2, y2 = data.load_mnist("test")
    assert x2.float().mean() > 10 and not bool((y2 == 3).all())


def test_bad_arguments_are_explained_in_spanish(offline_data):
    with pytest.raises(ValueError, match="Conjunto de datos desconocido"):
        data.load_dataset("imagenet")
    with pytest.raises(ValueError, match="split debe ser"):
        data.load_mnist("valid")
    with pytest.raises(ValueError, match="subconjunto"):
        data.load_mnist("test", subset=10**6)


def test_cifar10_format_through_the_standin(offline_data, tmp_path):
    """El código real de carga de CIFAR-10 lee el formato cifar-10-batches-py exacto: el mismo
    resultado que el lector de torchvision sobre los mismos archivos."""
    import torchvision.datasets.cifar as tv_cifar

    x, y = data.load_cifar10("train")
    xt, yt = data.load_cifar10("test")
    assert x.shape == (10_000, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert xt.shape == (2_000, 3, 32, 32)
    cache = offline_data["cache"]
    reader = tv_cifar.CIFAR10.__new__(tv_cifar.CIFAR10)
    # torchvision exige los md5 oficiales; el sustituto tiene los suyos (checksums.json).
    original = tv_cifar.check_integrity
    tv_cifar.check_integrity = lambda *a, **k: True
    try:
        reader.__init__(str(cache), train=True)
    finally:
        tv_cifar.check_integrity = original
    assert np.array_equal(reader.data.transpose(0, 3, 1, 2), x.numpy())
    assert reader.targets == y.tolist()
    names = data.class_names("cifar10")
    assert names == tuple(reader.classes) and len(names) == 10
    assert not set(names) & {"airplane", "automobile", "cat"}, "el sustituto no se presenta como CIFAR-10"
    n, _ = data.load_cifar10("train", normalize=True, subset=2000)
    assert n.dtype == torch.float32 and n.shape == (2000, 3, 32, 32)


def test_cifar10_standin_corruption_is_detected(offline_data, tmp_path, monkeypatch):
    mirror = tmp_path / "espejo"
    shutil.copytree(offline_data["standin"], mirror)
    victim = mirror / "cifar-10-batches-py" / "data_batch_3"
    victim.write_bytes(victim.read_bytes()[:-10])
    monkeypatch.setenv("CURSO_DATA_MIRROR", str(mirror))
    with pytest.raises(data.CorruptFileError):
        data.load_cifar10("train", root=tmp_path / "cache")


def test_cifar10_official_md5_is_required_without_manifest(offline_data, tmp_path, monkeypatch, no_network):
    """Sin el manifiesto del espejo, los archivos del sustituto no pasan por CIFAR-10 oficial."""
    mirror = tmp_path / "espejo"
    shutil.copytree(offline_data["standin"], mirror)
    (mirror / "checksums.json").unlink()
    monkeypatch.setenv("CURSO_DATA_MIRROR", str(mirror))
    with pytest.raises(data.CorruptFileError):
        data.load_cifar10("train", root=tmp_path / "cache")
