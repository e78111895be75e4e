"""Capa de datos: espejo, caché, md5, archivos truncados, error sin conexión, subconjuntos y
CIFAR-10 real decodificado de la copia en JPEG al formato cifar-10-batches-py."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from curso_pytorch import cifar_jpeg, data

REPO = Path(__file__).resolve().parents[1]


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


# --------------------------------------------------------------------------- CIFAR-10 real


def _pickle_bytes(path: Path) -> dict:
    """Un pickle leído como los de Python 2 (claves ``bytes``), sin la capa de datos."""
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


@pytest.fixture
def jpeg_mirror(offline_data):
    """Un espejo que solo tiene la copia en JPEG de CIFAR-10."""
    return str(offline_data["cifar_archive"].parents[1])


def test_cifar10_jpeg_copy_has_the_exact_batches_layout(offline_data):
    folder = offline_data["cache"] / data.CIFAR10_FOLDER
    expected = {*data.CIFAR10_FILES, *(f"{name}.md5" for name in data.CIFAR10_FILES)}
    assert {p.name for p in folder.iterdir()} == expected
    batch_names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    labels_seen = []
    for i, name in enumerate(batch_names):
        batch = _pickle_bytes(folder / name)
        assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
        assert batch[b"batch_label"] == (f"training batch {i + 1} of 5" if i < 5 else "testing batch 1 of 1").encode()
        assert isinstance(batch[b"data"], np.ndarray)
        assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (10_000, 3072)
        assert isinstance(batch[b"labels"], list) and all(type(v) is int for v in batch[b"labels"])
        assert len(batch[b"labels"]) == len(batch[b"filenames"]) == 10_000
        assert all(isinstance(f, bytes) for f in batch[b"filenames"])
        # Mezclado entre clases, como los lotes oficiales: todas las clases en cada lote, sin orden.
        counts = np.bincount(batch[b"labels"], minlength=10)
        assert counts.min() > (700 if i < 5 else 900) and counts.max() < (1300 if i < 5 else 1100)
        assert sum(a != b for a, b in zip(batch[b"labels"], batch[b"labels"][1:])) > 8000
        labels_seen.append(batch[b"labels"])
    meta = _pickle_bytes(folder / "batches.meta")
    assert set(meta) == {b"label_names", b"num_cases_per_batch", b"num_vis", b"copia_jpeg"}
    assert meta[b"label_names"] == [name.encode() for name in cifar_jpeg.LABEL_NAMES]
    assert meta[b"num_cases_per_batch"] == 10_000 and meta[b"num_vis"] == 3072
    assert "decodificada de JPEG" in meta[b"copia_jpeg"]  # texto unicode de Python 2, con tildes
    for name in data.CIFAR10_FILES:
        assert (folder / f"{name}.md5").read_text().strip() == data.md5sum(folder / name)


def test_cifar10_pixels_are_the_archive_jpegs_in_channel_row_column_order(offline_data):
    from PIL import Image

    batch = _pickle_bytes(offline_data["cache"] / data.CIFAR10_FOLDER / "data_batch_2")
    wanted = {batch[b"filenames"][i].decode(): i for i in (0, 1234, 9999)}
    with tarfile.open(offline_data["cifar_archive"], "r:gz") as tar:
        for member, i in wanted.items():
            image = np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB"))
            assert np.array_equal(batch[b"data"][i].reshape(3, 32, 32), image.transpose(2, 0, 1))
            assert batch[b"labels"][i] == cifar_jpeg.LABEL_NAMES.index(member.split("/")[1])


def test_cifar10_real_classes_split_and_statistics(offline_data):
    x, y = data.load_cifar10("train")
    xt, yt = data.load_cifar10("test")
    assert x.shape == (50_000, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert xt.shape == (10_000, 3, 32, 32)
    assert torch.bincount(y).tolist() == [5000] * 10 and torch.bincount(yt).tolist() == [1000] * 10
    assert data.class_names("cifar10") == (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    pixels = x.float().div_(255)
    mean, std = pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3))
    torch.testing.assert_close(mean, torch.tensor(data.CIFAR10_MEAN), rtol=0, atol=0.01)
    torch.testing.assert_close(std, torch.tensor(data.CIFAR10_STD), rtol=0, atol=0.01)
    n, _ = data.load_cifar10("train", normalize=True, subset=2000)
    assert n.dtype == torch.float32 and n.shape == (2000, 3, 32, 32)
    assert data.is_jpeg_copy()


def test_torchvision_reads_the_built_folder(offline_data):
    import torchvision

    cache = offline_data["cache"]
    # El lector oficial de torchvision exige los md5 oficiales, que la copia en JPEG no tiene...
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        torchvision.datasets.CIFAR10(root=str(cache), train=False)
    # ... y el de la capa de datos (el mismo código de lectura) da lo mismo que load_cifar10.
    for train in (True, False):
        reader = data.torchvision_cifar10(train=train)
        x, y = data.load_cifar10("train" if train else "test")
        assert np.array_equal(reader.data.transpose(0, 3, 1, 2), x.numpy())
        assert reader.targets == y.tolist()
        assert tuple(reader.classes) == data.class_names("cifar10")
    image, label = reader[7]
    assert image.size == (32, 32) and label == y[7].item()


def test_corrupt_built_file_is_detected_by_its_md5(offline_data, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("CURSO_DATA_MIRROR", "")
    cache = tmp_path / "cache"
    shutil.copytree(offline_data["cache"] / data.CIFAR10_FOLDER, cache / data.CIFAR10_FOLDER)
    data.load_cifar10("test", root=cache)  # íntegra: se carga
    data._RAW_CACHE.clear()
    victim = cache / data.CIFAR10_FOLDER / "data_batch_3"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # un solo bit de un píxel; el pickle sigue siendo válido
    victim.write_bytes(bytes(raw))
    with pytest.raises(data.CorruptFileError, match="corrupto o truncado"):
        data.load_cifar10("train", root=cache)
    # Sin su .md5, un archivo de la copia tiene que pasar por el md5 oficial, y no lo pasa.
    shutil.copyfile(offline_data["cache"] / data.CIFAR10_FOLDER / "data_batch_3", victim)
    (cache / data.CIFAR10_FOLDER / "test_batch.md5").unlink()
    with pytest.raises(data.CorruptFileError, match="test_batch"):
        data.load_cifar10("test", root=cache)


@pytest.mark.parametrize("damage", ["truncado", "corrupto"])
def test_damaged_archive_gives_a_clear_spanish_error(offline_data, tmp_path, monkeypatch, no_network, damage):
    mirror = tmp_path / "espejo"
    archive = mirror / cifar_jpeg.ARCHIVE
    archive.parent.mkdir(parents=True)
    raw = bytearray(offline_data["cifar_archive"].read_bytes())
    if damage == "truncado":
        raw = raw[: len(raw) // 3]
    else:
        raw[len(raw) // 2] ^= 0xFF
    archive.write_bytes(bytes(raw))
    monkeypatch.setenv("CURSO_DATA_MIRROR", str(mirror))
    cache = tmp_path / "cache"
    with pytest.raises(data.CorruptFileError) as info:
        data.load_cifar10("train", root=cache)
    message = str(info.value)
    assert str(archive) in message and "corrupto o truncado" in message and "espejo" in message
    assert "Traceback" not in "\n".join(info.value._render_traceback_())
    assert not (cache / data.CIFAR10_FOLDER).exists()
    assert not [p for p in cache.iterdir() if "parcial" in p.name]


def test_archive_with_missing_images_is_refused(tmp_path):
    from PIL import Image

    archive = tmp_path / "incompleto.tar.gz"
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buffer, format="JPEG")
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train/cat/0000.jpg", "test/cat/0000.jpg"):
            info = tarfile.TarInfo(name)
            info.size = len(buffer.getvalue())
            tar.addfile(info, io.BytesIO(buffer.getvalue()))
    with pytest.raises(cifar_jpeg.ArchiveError, match="imágenes por clase"):
        cifar_jpeg.read_archive(archive)


def test_a_mirror_with_the_batches_folder_wins_over_the_jpeg_copy(offline_data, tmp_path, monkeypatch,
                                                                 jpeg_mirror, no_network):
    built = offline_data["cache"] / data.CIFAR10_FOLDER
    mirror = tmp_path / "espejo"
    shutil.copytree(built, mirror / data.CIFAR10_FOLDER, ignore=shutil.ignore_patterns("*.md5"))
    manifest = {f"{data.CIFAR10_FOLDER}/{name}": data.md5sum(built / name) for name in data.CIFAR10_FILES}
    (mirror / "checksums.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("CURSO_DATA_MIRROR", os.pathsep.join([str(mirror), jpeg_mirror]))
    cache = tmp_path / "cache"
    x, _ = data.load_cifar10("test", root=cache)
    assert len(x) == 10_000
    assert not (cache / f".{data.CIFAR10_FOLDER}.cerrojo").exists(), "no debía decodificar los JPEG"
    # Sin el manifiesto del espejo, sus archivos tienen que tener los md5 oficiales.
    (mirror / "checksums.json").unlink()
    data._RAW_CACHE.clear()
    with pytest.raises(data.CorruptFileError, match="espejo local"):
        data.load_cifar10("test", root=tmp_path / "otra")


def test_two_processes_building_at_once_share_one_build(offline_data, tmp_path, jpeg_mirror):
    """Dos procesos (dos correctores, dos procesos de pytest-xdist) piden CIFAR-10 a la vez con
    la misma caché vacía: uno decodifica y el otro espera; ninguno estropea al otro."""
    cache = tmp_path / "cache"
    env = {**os.environ, "CURSO_DATA_MIRROR": jpeg_mirror, "CURSO_DATA_DIR": str(cache),
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code = "from curso_pytorch import data; x, y = data.load_cifar10('test'); print(len(y), int(x.sum()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in results]
    lines = [out.strip().splitlines()[-1] for out, _ in results]
    assert lines[0] == lines[1] and lines[0].startswith("10000 ")
    assert sorted(p.name for p in cache.iterdir()) == [f".{data.CIFAR10_FOLDER}.cerrojo", data.CIFAR10_FOLDER]
    # La construcción es reproducible: los mismos bytes que la de la sesión.
    for name in data.CIFAR10_FILES:
        sidecar = f"{data.CIFAR10_FOLDER}/{name}.md5"
        assert (cache / sidecar).read_text() == (offline_data["cache"] / sidecar).read_text()


def test_derived_results_round_trip_and_read_only_cache(offline_data, tmp_path, monkeypatch):
    """``save_derived``/``load_derived``: se guarda y se lee igual; en una caché de solo lectura (la
    de la caja) no se guarda nada y no falla; un archivo dañado se ignora y se vuelve a calcular."""
    value = {"estado": {"w": torch.arange(6.0).reshape(2, 3)}, "logits": torch.ones(4, 10)}
    assert data.load_derived("prueba") is None
    assert data.save_derived("prueba", value)
    loaded = data.load_derived("prueba")
    assert torch.equal(loaded["estado"]["w"], value["estado"]["w"]) and torch.equal(loaded["logits"], value["logits"])
    path = data.derived_path("prueba")
    assert path.parent.name == data.DERIVED_FOLDER and torch.__version__ in path.name
    assert not list(path.parent.glob("*.parcial"))
    path.write_bytes(b"no es un archivo de torch")
    assert data.load_derived("prueba") is None
    path.unlink()
    # Donde no se puede escribir (en la caja, la caché es de solo lectura; aquí, «derivados» es un
    # archivo y no una carpeta, que también falla siendo root): no se guarda nada y no falla.
    shutil.rmtree(path.parent)
    path.parent.write_text("")
    try:
        assert not data.save_derived("prueba", value)
        assert data.load_derived("prueba") is None
    finally:
        path.parent.unlink()
    # En la caja, la carpeta existe pero es de solo lectura: torch.save no lanza OSError sino
    # RuntimeError («Read-only file system»), y tampoco debe salir de save_derived.

    def read_only(obj, f, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:747] . open file failed with strerror: "
                           "Read-only file system")

    monkeypatch.setattr(torch, "save", read_only)
    assert not data.save_derived("prueba", value)
    assert data.load_derived("prueba") is None and not list(path.parent.glob("*.parcial"))


def test_small_nets_do_not_depend_on_the_thread_count(offline_data, tmp_path):
    """El núcleo (con 1 hilo por núcleo si se califica con varios procesos) y el juez (con los de su
    proceso) entrenan las redes pequeñas de las pruebas de métricas y el juez compara las de la sonda
    con las suyas: deben ser idénticas bit a bit con 1 y con 2 hilos. Antes, con Adam, diferían
    (logits en 0,08) y una entrega correcta perdía puntos según la carga."""
    from curso_pytorch import checks

    code = ("import sys, torch\n"
            "from curso_pytorch import checks\n"
            "nets = checks.trained_small_cnns('cpu', cached=False)\n"
            "torch.save({k: {'estado': r['model'].state_dict(), 'logits': r['logits']} for k, r in nets.items()},"
            " sys.argv[1])\n"
            "assert torch.get_num_threads() == int(sys.argv[2]), torch.get_num_threads()\n")
    results = []
    for threads in (1, 2):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        out = tmp_path / f"redes-{threads}.pt"
        subprocess.run([sys.executable, "-c", code, str(out), str(threads)], env=env, check=True, timeout=600)
        results.append(torch.load(out, weights_only=True))
    one, two = results
    assert set(one) == set(two) == set(checks.REAL_DATASETS)
    for name in one:
        assert torch.equal(one[name]["logits"], two[name]["logits"]), name
        assert all(torch.equal(v, two[name]["estado"][k]) for k, v in one[name]["estado"].items()), name


def test_probe_inputs_read_from_the_cache_match_the_training(offline_data, monkeypatch):
    """Lo que las sondas entrenan siempre igual (las redes pequeñas de las pruebas de métricas y los
    pesos de partida del laboratorio 05): el juez entrena (``cached=False``) y deja el resultado en
    la caché; el núcleo lo lee de allí y obtiene lo mismo, sin cambiar el generador global."""
    from curso_pytorch import checks

    monkeypatch.setattr(checks, "_REAL_NETS", {})
    for name in (checks.SMALL_NETS_DERIVED, "inicio_adamw_lenet-cpu"):
        data.derived_path(name).unlink(missing_ok=True)
    start = checks.warm_start_weights("cpu", cached=False)
    assert data.load_derived("inicio_adamw_lenet-cpu") is not None
    loaded = checks.warm_start_weights("cpu")
    assert loaded.keys() == start.keys() and all(torch.equal(loaded[k], start[k]) for k in start)
    name = checks.SMALL_NETS_DERIVED
    torch.manual_seed(123)
    trained = checks.trained_small_cnns("cpu", cached=False)
    after_training = torch.rand(3)
    assert data.load_derived(name) is not None
    torch.manual_seed(123)
    loaded = checks.trained_small_cnns("cpu")
    assert torch.equal(torch.rand(3), after_training)
    assert loaded is not trained and set(loaded) == set(checks.REAL_DATASETS)
    for dataset, r in loaded.items():
        assert torch.equal(r["logits"], trained[dataset]["logits"])
        assert not r["model"].training
        with torch.no_grad():
            torch.testing.assert_close(r["model"](r["x"][:500]), r["logits"][:500])
