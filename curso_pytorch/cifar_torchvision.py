"""``torchvision.datasets.CIFAR10`` para la copia de CIFAR-10 decodificada de JPEG.

torchvision solo acepta los md5 oficiales. La copia decodificada de JPEG tiene los suyos, que la
capa de datos verifica (``<archivo>.md5``) antes de que se lea nada; ``VerifiedCIFAR10`` es el
lector de torchvision sin esa comprobación: su código de lectura y ``__getitem__`` son los de
torchvision. Vive en su propio módulo (que importa torchvision) para que la capa de datos no lo
cargue si no se pide, y para que sus objetos se puedan enviar a los procesos de un ``DataLoader``.
"""

from __future__ import annotations

import torchvision


class VerifiedCIFAR10(torchvision.datasets.CIFAR10):
    """``torchvision.datasets.CIFAR10`` sin su comprobación de md5 oficiales."""

    train_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.test_list]
    meta = {**torchvision.datasets.CIFAR10.meta, "md5": None}
