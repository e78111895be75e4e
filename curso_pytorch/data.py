"""Capa de datos del curso: MNIST y CIFAR-10 como tensores en memoria.

Un único módulo sirve a los cuadernos, a las pruebas ocultas y a las herramientas.
Orden de las fuentes para cada archivo:

1. la caché (``data/`` en la raíz del curso, o la carpeta de ``CURSO_DATA_DIR``);
2. un espejo local (``CURSO_DATA_MIRROR``: una o varias carpetas separadas por ``os.pathsep``)
   con la misma estructura que la caché;
3. para CIFAR-10, la copia en JPEG de las imágenes reales de un espejo
   (``cifar10-jpeg/cifar10_jpeg.tar.gz``), decodificada en la caché al formato de
   ``cifar-10-batches-py`` (``curso_pytorch.cifar_jpeg``);
4. la descarga a través de torchvision.

Todo archivo se verifica con su md5 antes de usarse; uno corrupto o truncado se informa y
nunca se usa. Un espejo puede publicar un ``checksums.json`` (ruta relativa -> md5) para
archivos que no son los oficiales (por ejemplo, los re-comprimidos por Debian).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from curso_pytorch import cifar_jpeg

DATA_DIR_ENV = "CURSO_DATA_DIR"
MIRROR_ENV = "CURSO_DATA_MIRROR"
MIRROR_MANIFEST = "checksums.json"

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}

MNIST_CLASSES = tuple(str(d) for d in range(10))
# Media y desviación típica del conjunto de entrenamiento (píxeles en [0, 1]).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class DatasetUnavailableError(RuntimeError):
    """No se pudo obtener un conjunto de datos. El mensaje dice qué hacer."""

    def _render_traceback_(self):
        # IPython muestra esto en lugar de la pila de llamadas completa.
        return [f"\033[31mDatasetUnavailableError\033[0m: {self}"]


class CorruptFileError(DatasetUnavailableError):
    """Un archivo de datos no coincide con su md5 (corrupto o truncado)."""


# --------------------------------------------------------------------------- rutas


def is_course(folder: Path) -> bool:
    """Una carpeta de curso: contiene ``nbgrader_config.py`` y ``source/``."""
    return (Path(folder) / "nbgrader_config.py").is_file() and (Path(folder) / "source").is_dir()


def course_root(start: Path | None = None) -> Path | None:
    """La carpeta del curso (la que contiene ``nbgrader_config.py``) por encima de ``start``."""
    here = Path(start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if is_course(folder)), None)


def data_root(root: str | os.PathLike | None = None, course: str | os.PathLike | None = None) -> Path:
    """Carpeta de la caché (la única decisión de dónde está): ``root``, ``$CURSO_DATA_DIR``,
    ``<curso>/data`` (``course`` o el curso que contiene la carpeta actual) o ``./data``."""
    if root is not None:
        return Path(root)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    course = Path(course) if course is not None else course_root()
    return course / "data" if course else Path.cwd() / "data"


@contextlib.contextmanager
def cache_in(root: Path):
    """Mientras dura el bloque, ``data_root()`` es ``root`` (vía ``$CURSO_DATA_DIR``). Así quien
    califica (el juez, en su proceso) lee la misma caché que el núcleo de la entrega: nbgrader pone
    como carpeta actual la de la entrega, en una copia temporal del curso sin ``data/``."""
    before = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(root)
    try:
        yield root
    finally:
        if before is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = before


def mirror_dirs() -> list[Path]:
    value = os.environ.get(MIRROR_ENV, "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def md5sum(path: Path) -> str:
    """md5 del archivo, calculado una vez por proceso mientras el archivo no cambie (mismo inodo,
    tamaño y fecha de modificación): cargar otra vez el mismo conjunto no vuelve a leerlo entero."""
    info = os.stat(path)
    key = (str(Path(path).resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _MD5S:
        digest = hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _MD5S[key] = digest.hexdigest()
    return _MD5S[key]


_MD5S: dict[tuple, str] = {}


def _manifest_md5(mirror: Path, relative: str, official: str) -> str:
    """md5 que declara el ``checksums.json`` de un espejo para ``relative`` (o el oficial)."""
    manifest = mirror / MIRROR_MANIFEST
    if manifest.is_file():
        return json.loads(manifest.read_text()).get(relative, official)
    return official


def _verified(path: Path, md5: str) -> bool:
    return path.is_file() and md5sum(path) == md5


def _provide(relative: str, official_md5: str, cache: Path) -> Path:
    """Deja ``cache/relative`` íntegro si está en la caché o en un espejo; si no, no hace nada.

    Un archivo copiado de un espejo con md5 propio guarda ese md5 al lado (``.md5``).
    """
    target = cache / relative
    sidecar = target.with_name(target.name + ".md5")
    if target.exists():
        expected = sidecar.read_text().strip() if sidecar.is_file() else official_md5
        if _verified(target, expected):
            return target
        raise CorruptFileError(
            f"El archivo {target} está corrupto o truncado (su md5 no coincide). "
            "No se usará: bórralo y vuelve a ejecutar la celda para obtenerlo de nuevo."
        )
    for mirror in mirror_dirs():
        candidate = mirror / relative
        if not candidate.is_file():
            continue
        expected = _manifest_md5(mirror, relative, official_md5)
        if not _verified(candidate, expected):
            raise CorruptFileError(
                f"El archivo {candidate} del espejo local está corrupto o truncado "
                f"(su md5 no coincide). No se usará: repara el espejo o quita {MIRROR_ENV}."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if expected != official_md5:
            sidecar.write_text(expected)
        # Una copia parcial por proceso: dos que llenan la caché a la vez no se pisan, y el último
        # reemplazo (atómico) deja el mismo archivo verificado.
        partial = target.with_name(f"{target.name}.{os.getpid()}.parcial")
        shutil.copyfile(candidate, partial)
        os.replace(partial, target)
        return target
    return target


def _describe(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, (OSError, ConnectionError)) or "urlopen error" in text or "Error downloading" in text:
        return "no hay conexión a internet o el servidor no responde"
    return text.splitlines()[0] if text else type(error).__name__


def _offline_message(name: str, cache: Path, reason: BaseException | None) -> str:
    why = f": {_describe(reason)}" if reason else ""
    return (
        f"No se pudo obtener el conjunto de datos {name}{why}. Opciones:\n"
        f"  1) Conéctate a internet y vuelve a intentarlo: se descargará en {cache}.\n"
        f"  2) Copia los archivos oficiales en {cache} (estructura de torchvision).\n"
        f"  3) Define la variable de entorno {MIRROR_ENV} con la carpeta de un espejo local "
        "que tenga esa misma estructura"
        + (f" (para CIFAR-10 basta con la copia en JPEG {cifar_jpeg.ARCHIVE})." if name == "CIFAR-10" else ".")
    )


def _download(name: str, cache: Path) -> None:
    """Descarga con torchvision; traduce cualquier fallo de red a un mensaje claro."""
    import torchvision

    dataset_cls = {"MNIST": torchvision.datasets.MNIST, "CIFAR-10": torchvision.datasets.CIFAR10}[name]
    chatter = io.StringIO()  # torchvision anuncia cada intento en stdout
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(chatter):
            for train in (True, False):
                dataset_cls(root=str(cache), train=train, download=True)
    except Exception as error:  # red caída, DNS, certificados, descarga truncada...
        raise DatasetUnavailableError(_offline_message(name, cache, error)) from None


def _build_from_jpeg(name: str, cache: Path) -> bool:
    """Para CIFAR-10: decodifica en la caché la copia en JPEG de un espejo, si hay alguno que la
    tenga. Devuelve si la había. ``cifar_jpeg.build`` no hace nada si la carpeta ya existe (por
    ejemplo, porque otro proceso acaba de construirla)."""
    archive = cifar_jpeg.find_archive(mirror_dirs()) if name == "CIFAR-10" else None
    if archive is None:
        return False
    cifar_jpeg.build(archive, cache, md5sum, corrupt_error=CorruptFileError)
    return True


def _ensure(name: str, files: dict[str, str], folder: str, cache: Path) -> None:
    """Deja todos los archivos de ``name`` íntegros en la caché (caché, espejo o descarga)."""
    paths = [_provide(f"{folder}/{filename}", md5, cache) for filename, md5 in files.items()]
    if all(path.exists() for path in paths):
        return
    if _build_from_jpeg(name, cache):
        # Verifica lo construido (aquí o por otro proceso a la vez) con sus .md5.
        paths = [_provide(f"{folder}/{filename}", md5, cache) for filename, md5 in files.items()]
        if all(path.exists() for path in paths):
            return
    _download(name, cache)
    for (filename, md5), path in zip(files.items(), paths):
        if not _verified(path, md5):
            raise CorruptFileError(f"La descarga de {path} no superó la verificación md5; no se usará.")


_DATASETS = {"mnist": ("MNIST", MNIST_FILES, "MNIST/raw"), "cifar10": ("CIFAR-10", CIFAR10_FILES, CIFAR10_FOLDER)}


def _key(name: str) -> str:
    key = name.lower().replace("-", "")
    if key not in _DATASETS:
        raise ValueError(f"Conjunto de datos desconocido: {name!r}. Usa 'mnist' o 'cifar10'.")
    return key


def ensure_files(name: str, cache: Path) -> None:
    """Deja íntegros en ``cache`` los archivos de ``name`` ("mnist" o "cifar10"); sin torch, para
    que comprobar los datos antes de calificar no tenga que importarlo."""
    _ensure(*_DATASETS[_key(name)], cache)


# --------------------------------------------------------------------------- lectura


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise CorruptFileError(f"El archivo {path} está truncado; no se usará.")
    return data.reshape(shape)


_jpeg_notice_shown = False
_RAW_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]] = {}


def _load_mnist_raw(train: bool, cache: Path):
    import torch

    ensure_files("mnist", cache)
    prefix = "train" if train else "t10k"
    images = _read_idx(cache / "MNIST/raw" / f"{prefix}-images-idx3-ubyte.gz")
    labels = _read_idx(cache / "MNIST/raw" / f"{prefix}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, 28, 28) uint8
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y, MNIST_CLASSES


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def _load_cifar10_raw(train: bool, cache: Path):
    import torch

    ensure_files("cifar10", cache)
    folder = cache / CIFAR10_FOLDER
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    batches = [_unpickle(folder / n) for n in names]
    data = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b["labels"], dtype=np.int64) for b in batches])
    meta = _unpickle(folder / "batches.meta")
    classes = tuple(meta["label_names"])
    global _jpeg_notice_shown
    if meta.get(cifar_jpeg.NOTE_KEY) and not _jpeg_notice_shown:
        _jpeg_notice_shown = True
        print(f"Aviso: {folder} es una copia decodificada de JPEG de las imágenes reales de CIFAR-10, "
              "no los archivos oficiales.")
    return torch.from_numpy(data.copy()), torch.from_numpy(labels), classes


_LOADERS = {"mnist": _load_mnist_raw, "cifar10": _load_cifar10_raw}
_STATS = {"mnist": (MNIST_MEAN, MNIST_STD), "cifar10": (CIFAR10_MEAN, CIFAR10_STD)}


def stratified_indices(labels: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """Índices (ordenados) de un subconjunto estratificado y reproducible de ``size`` ejemplos."""
    import torch

    n = labels.numel()
    if not 0 < size <= n:
        raise ValueError(f"El tamaño del subconjunto debe estar entre 1 y {n}; se pidió {size}.")
    generator = torch.Generator().manual_seed(seed)
    classes, counts = labels.unique(return_counts=True)
    quotas = (counts.double() * size / n).floor().long()
    # Reparte los que faltan entre las clases con mayor resto (método de Hamilton).
    remainder = counts.double() * size / n - quotas.double()
    order = torch.argsort(remainder, descending=True, stable=True)
    quotas[order[: size - int(quotas.sum())]] += 1
    chosen = []
    for cls, quota in zip(classes.tolist(), quotas.tolist()):
        members = (labels == cls).nonzero().flatten()
        chosen.append(members[torch.randperm(members.numel(), generator=generator)[:quota]])
    return torch.cat(chosen).sort().values


def load_dataset(
    name: str,
    split: str = "train",
    *,
    subset: int | None = None,
    seed: int = 0,
    normalize: bool = False,
    as_float: bool = False,
    root: str | os.PathLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carga ``name`` ("mnist" o "cifar10") como tensores ``(imágenes, etiquetas)``.

    - ``split``: "train" o "test".
    - ``subset``: número de ejemplos de un subconjunto estratificado reproducible (``seed``).
    - Por defecto las imágenes son ``uint8`` (N, C, H, W); ``as_float=True`` las da en
      ``float32`` dentro de [0, 1] y ``normalize=True`` además las estandariza con la media
      y la desviación típica del conjunto de entrenamiento.
    - Las etiquetas son ``int64`` de forma (N,).
    """
    key = _key(name)
    if split not in ("train", "test"):
        raise ValueError(f"split debe ser 'train' o 'test'; se recibió {split!r}.")
    cache = data_root(root).resolve()
    cache_key = (key, split, str(cache))
    if cache_key not in _RAW_CACHE:
        _RAW_CACHE[cache_key] = _LOADERS[key](split == "train", cache)
    images, labels, _ = _RAW_CACHE[cache_key]
    if subset is not None:
        index = stratified_indices(labels, subset, seed)
        images, labels = images[index], labels[index]
    else:
        images, labels = images.clone(), labels.clone()
    if as_float or normalize:
        images = images.float().div_(255)
    if normalize:
        import torch

        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in _STATS[key])
        images = (images - mean) / std
    return images, labels


def load_mnist(split: str = "train", **options) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST como tensores: imágenes (N, 1, 28, 28) y etiquetas (N,). Ver ``load_dataset``."""
    return load_dataset("mnist", split, **options)


def load_cifar10(split: str = "train", **options) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 como tensores: imágenes (N, 3, 32, 32) y etiquetas (N,). Ver ``load_dataset``."""
    return load_dataset("cifar10", split, **options)


def class_names(name: str, root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Nombres de las clases de ``name`` (para CIFAR-10, leídos de ``batches.meta``)."""
    key = _key(name)
    load_dataset(key, "test", subset=10, root=root)
    return _RAW_CACHE[(key, "test", str(data_root(root).resolve()))][2]


def is_jpeg_copy(root: str | os.PathLike | None = None) -> bool:
    """Si el CIFAR-10 de la caché es la copia decodificada de JPEG (no los archivos oficiales)."""
    class_names("cifar10", root=root)  # lo deja en la caché, verificado
    meta = _unpickle(data_root(root).resolve() / CIFAR10_FOLDER / "batches.meta")
    return bool(meta.get(cifar_jpeg.NOTE_KEY))


def torchvision_cifar10(train: bool = True, root: str | os.PathLike | None = None, **options):
    """El ``torchvision.datasets.CIFAR10`` de la caché del curso (``options``: ``transform``...).

    Para la copia decodificada de JPEG, que la capa de datos ya verificó con sus ``.md5``, es un
    ``VerifiedCIFAR10`` (torchvision solo acepta los md5 oficiales; ver ``cifar_torchvision``).
    """
    import torchvision

    from curso_pytorch.cifar_torchvision import VerifiedCIFAR10

    cache = data_root(root).resolve()
    dataset_cls = VerifiedCIFAR10 if is_jpeg_copy(cache) else torchvision.datasets.CIFAR10
    return dataset_cls(root=str(cache), train=train, **options)


def make_loader(images, labels, batch_size=256, shuffle=False, seed=None, drop_last=False, collate_fn=None):
    """Un ``DataLoader`` sobre tensores en memoria (``num_workers=0``, reproducible con ``seed``;
    ``collate_fn``, la del ``DataLoader``)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        TensorDataset(images, labels),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=drop_last,
        collate_fn=collate_fn,
    )


def missing(names=("mnist", "cifar10"), root=None) -> dict[str, str]:
    """Los conjuntos que no se pudieron dejar en la caché, con el motivo (vacío: todos listos)."""
    return {name: why for name, why in provision(names, root).items() if why != "listo"}


def provision(names=("mnist", "cifar10"), root=None) -> dict[str, str]:
    """Deja los conjuntos en la caché. Devuelve, por conjunto, "listo" o el motivo del fallo."""
    status = {}
    for name in names:
        try:
            ensure_files(name, data_root(root).resolve())
            status[name] = "listo"
        except DatasetUnavailableError as error:
            status[name] = str(error)
    return status


# --------------------------------------------------------------------------- resultados derivados
# Lo que se calcula siempre igual a partir de los conjuntos (p. ej. las redes pequeñas entrenadas de
# las pruebas de métricas) se guarda en la caché, en ``derivados/``, para no repetirlo en cada
# núcleo. Dentro de la caja de calificación la caché es de solo lectura: allí solo se lee lo que
# dejó quien califica (o una ejecución anterior fuera de la caja).

DERIVED_FOLDER = "derivados"


def derived_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """El archivo de ``name`` en la caché; el nombre incluye la versión de torch y la copia de
    CIFAR-10 (oficial o decodificada de JPEG), de las que depende el resultado."""
    import torch

    cache = data_root(root).resolve()
    source = "jpeg" if is_jpeg_copy(cache) else "oficial"
    return cache / DERIVED_FOLDER / f"{name}-torch{torch.__version__}-{source}.pt"


def load_derived(name: str, root: str | os.PathLike | None = None):
    """El resultado guardado con ``save_derived`` (tensores y contenedores), o ``None``."""
    path = derived_path(name, root)
    if not path.is_file():
        return None
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # incompleto o de otra versión: se vuelve a calcular
        return None


def save_derived(name: str, value, root: str | os.PathLike | None = None) -> bool:
    """Guarda ``value`` para ``load_derived`` si la caché admite escritura (atómico: una copia
    parcial por proceso y un reemplazo); devuelve si se guardó."""
    path = derived_path(name, root)
    partial = path.with_name(f"{path.name}.{os.getpid()}.parcial")
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(value, partial)
        os.replace(partial, path)
        return True
    except (OSError, RuntimeError):  # torch.save en un sistema de solo lectura lanza RuntimeError
        with contextlib.suppress(OSError):
            partial.unlink()
        return False


def derived(name: str, compute, cached: bool = True, root: str | os.PathLike | None = None):
    """``compute()`` (tensores y contenedores, en CPU), leído de la caché si ya está y ``cached``;
    si no, calculado y guardado si la caché admite escritura (``save_derived``)."""
    saved = load_derived(name, root) if cached else None
    if saved is not None:
        return saved
    value = compute()
    save_derived(name, value, root)
    return value
