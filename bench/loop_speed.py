"""Velocidad del bucle de entrenamiento: el del curso frente al de las semillas.

Uso: python bench/loop_speed.py [--device cpu|cuda] [--imagenes-semillas N] [--imagenes-curso N]
                               [--repeticiones N]

Entrena la misma red (la LeNet de las semillas) con el mismo optimizador sobre los mismos
conjuntos de datos de dos maneras y mide imágenes por segundo:

- bucle de las semillas: un conjunto de datos de torchvision que convierte cada imagen PIL con
  ``ToTensor`` + ``Normalize`` al pedirla, un ``DataLoader`` con lotes de 4 y 2 procesos
  (``num_workers=2``) y el bucle clásico por lote (``running_loss += loss.item()`` en cada paso
  e informe cada 2000 lotes);
- bucle del curso: tensores precargados en memoria y normalizados una sola vez
  (``curso_pytorch.data``), lotes de 256 con ``make_loader`` y el ``train_one_epoch`` de la
  solución de referencia del laboratorio 03.

Se mide en MNIST y en CIFAR-10 (3×32×32), tal como los da la capa de datos (caché, espejo o
descarga). Sin conexión, un espejo (CURSO_DATA_MIRROR) con la copia en JPEG de CIFAR-10 basta:
la capa de datos la decodifica en la caché y la salida dice que se midió con esa copia.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curso_pytorch import data  # noqa: E402

SEED_BATCH, SEED_WORKERS, SEED_PRINT_EVERY = 4, 2, 2000
COURSE_BATCH = 256
COURSE_SUBSET = 10_000  # el bucle del curso da épocas enteras sobre este subconjunto


class LeNet(nn.Module):
    """La red de los ejemplos de CIFAR-10 de las semillas, para ``in_channels`` × ``size`` × ``size``."""

    def __init__(self, in_channels: int = 3, size: int = 32):
        super().__init__()
        side = ((size - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)


# --------------------------------------------------------------------------- los dos bucles


def seed_train(net, trainloader, optimizer, device, max_batches=None, log=print) -> int:
    """El bucle de las semillas (una época). Devuelve el número de imágenes vistas."""
    criterion = nn.CrossEntropyLoss()
    running_loss, seen = 0.0, 0
    for i, batch in enumerate(trainloader, 0):
        if max_batches is not None and i >= max_batches:
            break
        inputs, labels = batch[0].to(device), batch[1].to(device)
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        seen += len(labels)
        if i % SEED_PRINT_EVERY == SEED_PRINT_EVERY - 1:
            log(f"[{i + 1:5d}] pérdida: {running_loss / SEED_PRINT_EVERY:.3f}")
            running_loss = 0.0
    return seen


def train_one_epoch(model, loader, loss_fn, optimizer, device) -> float:
    """El ``train_one_epoch`` de la solución de referencia del laboratorio 03."""
    model.train()
    total_loss, seen = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        batch_size = y.shape[0]
        total_loss += loss.item() * batch_size
        seen += batch_size
    return total_loss / seen


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_seed_loop(dataset, device, warmup_batches=25) -> tuple[int, float]:
    """Una época del bucle de las semillas sobre ``dataset``: (imágenes, segundos).

    Antes, unos lotes de calentamiento sin medir. Lo medido incluye el arranque de los dos
    procesos del ``DataLoader``, que las semillas pagan en cada época.
    """
    torch.manual_seed(0)
    net = LeNet(*_shape(dataset)).to(device)
    optimizer = make_optimizer(net)
    trainloader = DataLoader(dataset, batch_size=SEED_BATCH, shuffle=True, num_workers=SEED_WORKERS)
    seed_train(net, trainloader, optimizer, device, max_batches=warmup_batches)
    _synchronize(device)
    start = time.perf_counter()
    seen = seed_train(net, trainloader, optimizer, device)
    _synchronize(device)
    return seen, time.perf_counter() - start


def time_course_loop(images, labels, device, epochs=1, warmup_images=1024) -> tuple[int, float]:
    """``epochs`` épocas del bucle del curso sobre tensores en memoria: (imágenes, segundos)."""
    torch.manual_seed(0)
    model = LeNet(images.shape[1], images.shape[-1]).to(device)
    optimizer = make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    warmup = data.make_loader(images[:warmup_images], labels[:warmup_images], batch_size=COURSE_BATCH)
    train_one_epoch(model, warmup, loss_fn, optimizer, device)
    loader = data.make_loader(images, labels, batch_size=COURSE_BATCH, shuffle=True, seed=0)
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        train_one_epoch(model, loader, loss_fn, optimizer, device)
    _synchronize(device)
    return epochs * len(labels), time.perf_counter() - start


def _shape(dataset) -> tuple[int, int]:
    image = dataset[0][0]
    return image.shape[0], image.shape[-1]


# --------------------------------------------------------------------------- los datos


def _per_image_transform(mean, std):
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])


def mnist_datasets(n_seed: int, n_course: int, workdir: Path):
    """MNIST para los dos bucles: (Subset de torchvision, imágenes, etiquetas, nombre).

    torchvision lee los mismos archivos de la caché del curso (enlazados en ``workdir``, donde
    los descomprime); cada bucle toma un subconjunto estratificado (semilla 0) de su tamaño.
    """
    images, labels = data.load_mnist("train", subset=n_course, normalize=True, seed=0)
    raw = workdir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        (raw / name).symlink_to(data.data_root().resolve() / "MNIST" / "raw" / name)
    with contextlib.redirect_stdout(io.StringIO()):
        trainset = torchvision.datasets.MNIST(
            root=str(workdir), train=True, download=True,
            transform=_per_image_transform(data.MNIST_MEAN, data.MNIST_STD))
    index = data.stratified_indices(trainset.targets, n_seed, seed=0)
    return Subset(trainset, index.tolist()), images, labels, "MNIST"


CIFAR10_JPEG_NAME = "CIFAR-10 (copia decodificada de JPEG)"


def cifar_datasets(n_seed: int, n_course: int, workdir: Path):
    """CIFAR-10 para los dos bucles: (Subset de torchvision, imágenes, etiquetas, nombre).

    torchvision lee la misma carpeta de la caché del curso (``data.torchvision_cifar10``).
    """
    images, labels = data.load_cifar10("train", subset=n_course, normalize=True, seed=0)
    trainset = data.torchvision_cifar10(
        train=True, transform=_per_image_transform(data.CIFAR10_MEAN, data.CIFAR10_STD))
    index = data.stratified_indices(torch.tensor(trainset.targets), n_seed, seed=0)
    name = CIFAR10_JPEG_NAME if data.is_jpeg_copy() else "CIFAR-10"
    return Subset(trainset, index.tolist()), images, labels, name


# --------------------------------------------------------------------------- tabla


def _median(runs: list[tuple[int, float]]) -> tuple[int, float]:
    """(imágenes, mediana de los segundos) de varias medidas con las mismas imágenes."""
    return runs[0][0], statistics.median(seconds for _, seconds in runs)


def _thousands(value: float) -> str:
    """Entero con los miles separados por espacios, como recomienda la RAE: 12 345."""
    return f"{round(value):,}".replace(",", " ")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        default="cuda" if torch.cuda.is_available() else "cpu",
                        help="dispositivo (por defecto, cuda si hay GPU; si no, cpu)")
    parser.add_argument("--imagenes-semillas", type=int, default=2000,
                        help="imágenes medidas con el bucle de las semillas (por defecto 2000)")
    parser.add_argument("--imagenes-curso", type=int, default=20000,
                        help="imágenes medidas con el bucle del curso (por defecto 20000)")
    parser.add_argument("--repeticiones", type=int, default=3,
                        help="medidas de cada bucle; se informa la mediana (por defecto 3)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no hay ninguna GPU disponible: use --device cpu")
    device = torch.device(args.device)
    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    else:
        hardware = "hay GPU, pero se mide en la CPU" if torch.cuda.is_available() else "sin GPU"
    print(f"Dispositivo: {device} ({hardware}) · núcleos de CPU: {os.cpu_count()} · "
          f"hilos de PyTorch: {torch.get_num_threads()} · PyTorch {torch.__version__} · "
          f"carga media del sistema al empezar: {os.getloadavg()[0]:.1f}")
    print("Red: LeNet de las semillas · optimizador: SGD(lr=0.001, momentum=0.9) · "
          "pérdida: entropía cruzada")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, build in (("mnist", mnist_datasets), ("cifar", cifar_datasets)):
            workdir = Path(tmp) / key
            workdir.mkdir()
            size = min(args.imagenes_curso, COURSE_SUBSET)
            seed_set, images, labels, name = build(args.imagenes_semillas, size, workdir)
            epochs = math.ceil(args.imagenes_curso / size)
            slow, fast = [], []
            for _ in range(args.repeticiones):  # alternadas: una perturbación afecta a las dos
                slow.append(time_seed_loop(seed_set, device))
                fast.append(time_course_loop(images, labels, device, epochs=epochs))
            rows.append((name, _median(slow), _median(fast)))
    times = "una medida" if args.repeticiones == 1 else f"mediana de {args.repeticiones} medidas"
    print(f"\nImágenes por segundo de cada bucle ({times}):")
    print(f"{'datos':<40} {'bucle':<9} {'imágenes':>9} {'segundos':>9} {'imágenes/s':>11}")
    for name, slow, fast in rows:
        for label, (seen, seconds) in (("semillas", slow), ("curso", fast)):
            print(f"{name:<40} {label:<9} {_thousands(seen):>9} {seconds:>9.1f} "
                  f"{_thousands(seen / seconds):>11}")
        ratio = (fast[0] / fast[1]) / (slow[0] / slow[1])
        print(f"{'':<40} {'razón':<9} {'':>9} {'':>9} {ratio:>10.0f}×")
    print(f"\nSemillas: lotes de {SEED_BATCH}, ToTensor + Normalize por imagen, "
          f"num_workers={SEED_WORKERS}. Curso: tensores en memoria, lotes de {COURSE_BATCH}.")
    if any(name == CIFAR10_JPEG_NAME for name, _, _ in rows):
        print("Los datos de CIFAR-10 son las imágenes reales de la copia en JPEG del espejo, "
              "decodificadas en su formato (los píxeles difieren un poco de los oficiales).")
    if not torch.cuda.is_available():
        print("No hay GPU en esta máquina: en una con GPU, el mismo script mide en cuda.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
