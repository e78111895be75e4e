"""bench/loop_speed.py funciona con pocos datos (sin medir tiempos: las cifras las da el script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from curso_pytorch.data import load_cifar10, load_mnist

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def loop_speed():
    spec = importlib.util.spec_from_file_location("loop_speed", REPO / "bench" / "loop_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dataset", ["mnist", "cifar"])
def test_both_loops_see_the_same_normalised_images(loop_speed, dataset, tmp_path):
    build = {"mnist": loop_speed.mnist_datasets, "cifar": loop_speed.cifar_datasets}[dataset]
    seed_set, images, labels, name = build(40, 200, tmp_path)
    load = {"mnist": load_mnist, "cifar": load_cifar10}[dataset]
    expected_x, expected_y = load("train", subset=40, normalize=True, seed=0)
    # Las transformaciones por imagen de torchvision dan lo mismo que la normalización única.
    got_x = torch.stack([seed_set[i][0] for i in range(len(seed_set))])
    got_y = torch.tensor([seed_set[i][1] for i in range(len(seed_set))])
    assert torch.equal(got_y, expected_y)
    torch.testing.assert_close(got_x, expected_x, rtol=0, atol=1e-5)
    assert images.shape[0] == labels.shape[0] == 200
    assert images.shape[1:] == ((1, 28, 28) if dataset == "mnist" else (3, 32, 32))
    # Sin conexión, las pruebas tienen la copia de CIFAR-10 decodificada de JPEG, y el script lo dice.
    assert name == ("MNIST" if dataset == "mnist" else "CIFAR-10 (copia decodificada de JPEG)")


def test_the_loops_train_and_the_script_prints_its_table(loop_speed, capsys):
    net = loop_speed.LeNet(3, 32)
    before = [p.detach().clone() for p in net.parameters()]
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    seen = loop_speed.seed_train(net, [(x[:4], y[:4]), (x[4:], y[4:])], loop_speed.make_optimizer(net),
                                 torch.device("cpu"))
    assert seen == 8
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))

    argv = ["--device", "cpu", "--imagenes-semillas", "40", "--imagenes-curso", "300", "--repeticiones", "1"]
    assert loop_speed.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("MNIST", "CIFAR-10"))]
    # columnas fijas: datos (40), bucle (9), imágenes (9), ...
    assert [(row[41:50].strip(), row[51:60].strip()) for row in rows] == \
        [("semillas", "40"), ("curso", "300")] * 2
    assert out.count("razón") == 2
    assert "Los datos de CIFAR-10 son las imágenes reales de la copia en JPEG del espejo" in out
