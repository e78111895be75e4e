"""Utilidades para las celdas de pruebas (visibles y ocultas) de los laboratorios.

Un fallo dentro de ``check(...)`` se muestra como una sola línea en español, sin la pila de
llamadas: el alumno ve qué comprobación falló, no el código de la prueba oculta.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch

from .notebook import apply_strict_warnings, best_device  # noqa: F401 (best_device: para las pruebas)
from .notebook import unsolved


class CheckFailed(AssertionError):
    """Una comprobación de la calificación automática no se cumplió."""

    def _render_traceback_(self):
        return [f"\033[31mComprobación fallida\033[0m: {self}"]


@contextlib.contextmanager
def check(description: str):
    """Ejecuta una comprobación; cualquier error se convierte en ``CheckFailed`` con ``description``.

    También silencia los avisos (nbgrader pone a 0 una celda que escribe en stderr), salvo los de
    APIs obsoletas cuando ``CURSO_STRICT_WARNINGS`` pide tratarlos como errores (pruebas y CI).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            apply_strict_warnings()
            yield
    except CheckFailed as error:
        raise CheckFailed(f"{description}: {error}") from None
    except NotImplementedError as error:
        raise CheckFailed(f"{description}: {unsolved(error)}.") from None
    except NameError as error:  # una celda anterior no se ejecutó o falló
        raise CheckFailed(f"{description}: no existe «{error.name}»; ejecuta antes las celdas anteriores "
                          "y resuelve sus errores.") from None
    except AssertionError as error:
        detail = f": {error}" if str(error) else ""
        raise CheckFailed(f"{description}{detail}") from None
    except Exception as error:  # el código del alumno lanzó algo inesperado
        raise CheckFailed(f"{description}: tu código lanzó {type(error).__name__}: {error}") from None


def close(actual, expected, *, rtol=1e-5, atol=1e-6, what="el resultado") -> None:
    """Exige que ``actual`` sea un tensor finito con la forma de ``expected`` y valores cercanos."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what} debe ser un torch.Tensor, no {type(actual).__name__}.")
    expected = torch.as_tensor(expected)
    if tuple(actual.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what} tiene forma {tuple(actual.shape)}; se esperaba {tuple(expected.shape)}.")
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(a).all()) and bool(torch.isfinite(e).all()):
        raise CheckFailed(f"{what} contiene NaN o infinitos.")
    gap = (a - e).abs()
    limit = atol + rtol * e.abs()
    if bool((gap > limit).any()):
        raise CheckFailed(f"{what} no coincide con lo esperado (diferencia máxima {gap.max().item():.3g}).")


def scalar_close(actual, expected, *, rel=1e-4, abs_=1e-6, what="el valor") -> None:
    """Exige un número (float, int o tensor de un elemento) cercano a ``expected``."""
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            raise CheckFailed(f"{what} debe ser un único número; tiene forma {tuple(actual.shape)}.")
        actual = actual.item()
    if not isinstance(actual, (int, float)):
        raise CheckFailed(f"{what} debe ser un número, no {type(actual).__name__}.")
    if not math.isfinite(actual) or not math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_):
        raise CheckFailed(f"{what} vale {actual:.6g}; se esperaba {expected:.6g}.")


FORBIDDEN_MODULES = ("nn", "F", "functional", "optim")

#: Pérdidas ya hechas de PyTorch que un ejercicio de funciones de pérdida no puede usar.
FORBIDDEN_LOSSES = ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "multi_margin_loss",
                    "cross_entropy", "nll_loss", "log_softmax", "softmax", "MSELoss", "L1Loss",
                    "HuberLoss", "SmoothL1Loss", "MultiMarginLoss", "CrossEntropyLoss", "NLLLoss",
                    "LogSoftmax", "Softmax")


def forbidden_uses(func, attributes=(), globals_=FORBIDDEN_MODULES) -> list[str]:
    """Nombres prohibidos que usa ``func`` (también en funciones anidadas).

    ``attributes``: atributos prohibidos (``torch.softmax`` carga el atributo ``softmax``);
    ``globals_``: nombres globales prohibidos (``nn``, ``F``...). Llamar a una función propia
    del alumno con el mismo nombre (``softmax(z)``) está permitido: es un nombre global.
    """
    import dis
    import types

    code = getattr(func, "__code__", None)
    if code is None:
        return []
    found, pending = set(), [code]
    while pending:
        current = pending.pop()
        for ins in dis.get_instructions(current):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in attributes:
                found.add(ins.argval)
            elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in globals_:
                found.add(ins.argval)
            elif ins.opname == "IMPORT_NAME" and any(part in globals_ for part in str(ins.argval).split(".")):
                found.add(ins.argval)
        pending += [c for c in current.co_consts if isinstance(c, types.CodeType)]
    return sorted(found)


def require_no_forbidden(func, attributes=(), globals_=FORBIDDEN_MODULES) -> None:
    used = forbidden_uses(func, attributes, globals_)
    if used:
        raise CheckFailed(
            f"{getattr(func, '__name__', 'la función')} usa lo que el enunciado prohíbe: {', '.join(used)}."
        )


# --------------------------------------------------------------------------- bucles de entrenamiento
# Instrumentos de las pruebas visibles de los bucles: qué pérdidas se calcularon y con cuántos
# ejemplos, cuántos grafos siguen vivos, si cada lote pasó por ``.to(device)``, y ``fit`` con
# ``train_one_epoch`` y ``evaluate`` sustituidas.


class _Token:
    pass


class _Probe(torch.autograd.Function):
    """Identidad que ata un testigo al grafo de un lote: el testigo vive mientras viva ese grafo."""

    @staticmethod
    def forward(ctx, value, token):
        ctx.token = token
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def recording_loss():
    """Entropía cruzada que anota cada pérdida calculada.

    Devuelve ``(loss_fn, records, alive)``: ``records`` recibe ``(pérdida, tamaño del lote)`` de
    cada llamada y ``alive[0]`` el mayor número de grafos de lotes anteriores vivos a la vez (con
    ``loss.item()`` no pasa de 2; acumulando el tensor de la pérdida crece con cada lote).
    """
    import weakref

    import torch.nn.functional as F

    records, tokens, alive = [], [], [0]

    def loss_fn(output, target):
        alive[0] = max(alive[0], sum(t() is not None for t in tokens))
        loss = F.cross_entropy(output, target)
        records.append((loss.item(), int(target.shape[0])))
        token = _Token()
        tokens.append(weakref.ref(token))
        return _Probe.apply(loss, token)

    return loss_fn, records, alive


def weighted_mean(records) -> float:
    """Media por ejemplo de las pérdidas anotadas por ``recording_loss``."""
    return sum(loss * n for loss, n in records) / sum(n for _, n in records)


class NotMoved(torch.Tensor):
    """Tensor de un lote que aún no pasó por ``.to(device)``; al moverlo se vuelve un tensor normal."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.to, torch.Tensor.cuda) or kwargs.get("device") is not None:
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **kwargs)
                if isinstance(out, torch.Tensor):
                    out = out.as_subclass(torch.Tensor)
            return out
        return super().__torch_function__(func, types, args, kwargs)


def unmoved_loader(x, y, batch_size):
    """``DataLoader`` cuyos lotes son ``NotMoved`` hasta que se mueven con ``.to(device)``."""
    from torch.utils.data import DataLoader, TensorDataset, default_collate

    return DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size,
                      collate_fn=lambda batch: tuple(t.as_subclass(NotMoved) for t in default_collate(batch)))


def require_moved(run, model, what: str) -> None:
    """Ejecuta ``run(loss_fn)`` y exige que cada lote llegue al modelo y a la pérdida ya movido.

    ``run`` recibe la función de pérdida que debe usar (entropía cruzada que mira sus argumentos).
    """
    import torch.nn.functional as F

    seen = []
    hook = model.register_forward_pre_hook(lambda _module, inputs: seen.append(type(inputs[0]) is NotMoved))

    def loss_fn(output, target):
        seen.append(type(target) is NotMoved)
        return F.cross_entropy(output, target)

    try:
        run(loss_fn)
    finally:
        hook.remove()
    if not seen:
        raise CheckFailed(f"{what} no llamó al modelo.")
    if any(seen):
        raise CheckFailed(f"{what}: los lotes llegan al modelo o a la pérdida sin pasar por .to(device) "
                          "(mueve x e y con x.to(device), y.to(device) al principio de cada lote).")


def fit_with(fit, train_fn, eval_fn, *args, **kwargs):
    """Llama a ``fit`` con ``train_one_epoch`` y ``evaluate`` sustituidas (y luego las restaura)."""
    namespace = fit.__globals__
    saved = {k: namespace[k] for k in ("train_one_epoch", "evaluate") if k in namespace}
    namespace["train_one_epoch"], namespace["evaluate"] = train_fn, eval_fn
    try:
        return fit(*args, **kwargs)
    finally:
        for key in ("train_one_epoch", "evaluate"):
            if key in saved:
                namespace[key] = saved[key]
            else:
                namespace.pop(key, None)


def scripted_epochs(losses):
    """``train_one_epoch`` y ``evaluate`` de guion para probar la parada temprana de ``fit``.

    Cada época, el entrenamiento suma 1 a todos los parámetros (los pesos de cada época son
    distintos) y la evaluación devuelve la pérdida de ``losses`` que toca y guarda una copia de
    los pesos en ``snapshots``. Devuelve ``(train_fn, eval_fn, snapshots)``.
    """
    import copy

    snapshots = []

    def train_fn(model, loader, loss_fn, optimizer, device):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        return 1.0

    def eval_fn(model, loader, loss_fn, device):
        if len(snapshots) >= len(losses):
            raise CheckFailed(f"fit ejecutó más de las {len(losses)} épocas pedidas.")
        snapshots.append(copy.deepcopy(model.state_dict()))
        return float(losses[len(snapshots) - 1]), 0.5

    return train_fn, eval_fn, snapshots


def _fixed_batches(x, steps, batch):
    """Los índices de ``steps`` lotes de ``batch`` ejemplos de ``x``, siempre en el mismo orden."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).to(x.device)
    for step in range(steps):
        yield order[(step * batch) % len(x):][:batch]


def softmax_regression(loss_fn, update_fn, x, y, steps=150, batch=256, lr=0.5):
    """Entrena una regresión softmax (784 -> 10) con ``loss_fn`` y ``update_fn(params, lr)``, siempre
    igual (semilla, orden de los lotes y pasos fijos); devuelve ``[W, b]``. La usan la sonda, con
    las funciones del alumno, y el juez, con las de referencia: mismos datos, mismos pasos."""
    gen = torch.Generator().manual_seed(0)
    W = (0.01 * torch.randn(784, 10, generator=gen)).to(x.device).requires_grad_()
    b = torch.zeros(10, device=x.device, requires_grad=True)
    for idx in _fixed_batches(x, steps, batch):
        loss_fn(x[idx] @ W + b, y[idx]).backward()
        update_fn([W, b], lr)
    return [W.detach(), b.detach()]


def plain_sgd(params, lr) -> None:
    """El paso de descenso por gradiente de referencia (en el lugar; borra los gradientes)."""
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def value_and_grad(fn, x, *args, **kwargs) -> dict:
    """``{"valor": fn(x, ...), "gradiente": el de su suma respecto a x}`` (cotangente 1 en cada
    elemento). Si el resultado no es un tensor, solo ``"valor"``; si no es derivable, ``"gradiente"``
    vale False, y None si no depende de ``x``. La usan la sonda, con las pérdidas del alumno, y el
    juez, con las de PyTorch en float64."""
    x = x.detach().clone().requires_grad_()
    out = fn(x, *args, **kwargs)
    if not isinstance(out, torch.Tensor):
        return {"valor": out}
    if not out.requires_grad:
        return {"valor": out, "gradiente": False}
    out.backward(torch.ones_like(out))
    return {"valor": out.detach(), "gradiente": x.grad}


def mlp_training(loss_fn, x, y, steps=150, batch=256, lr=0.1):
    """Entrena un MLP 784-64-10 (ReLU) con ``loss_fn`` y descenso por gradiente, siempre igual
    (inicialización de ``nn.Linear`` con semilla fija, orden de los lotes y pasos fijos); devuelve
    ``[W1, b1, W2, b2]``. La usan la sonda, con la pérdida del alumno, y el juez, con la de PyTorch."""
    gen = torch.Generator().manual_seed(0)

    def uniform(shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return ((2 * torch.rand(shape, generator=gen) - 1) * bound).to(x.device).requires_grad_()

    params = [uniform((784, 64), 784), uniform((64,), 784), uniform((64, 10), 64), uniform((10,), 64)]
    for idx in _fixed_batches(x, steps, batch):
        W1, b1, W2, b2 = params
        loss_fn(torch.relu(x[idx] @ W1 + b1) @ W2 + b2, y[idx]).backward()
        plain_sgd(params, lr)
    return [p.detach() for p in params]


# --------------------------------------------------------------------------- redes entrenadas de verdad
# Predicciones reales para las pruebas de métricas: una red pequeña entrenada en MNIST y otra en
# CIFAR-10, siempre igual. La sonda llama al código del alumno con sus predicciones; el juez repite
# el entrenamiento en su proceso y compara.

REAL_DATASETS = {"mnist": (1, 2), "cifar10": (3, 0)}  # nombre: (canales de entrada, relleno de la primera capa)


def small_cnn(channels: int, padding: int):
    """Red convolucional pequeña tipo LeNet, con BatchNorm y Dropout (en evaluación cambian la salida)."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=padding), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Dropout(0.2), nn.Linear(120, 10))


def real_test_data(name: str):
    """Las 2000 imágenes de prueba (y sus etiquetas) con las que se miden las redes reales."""
    from .data import load_cifar10, load_mnist

    return (load_mnist if name == "mnist" else load_cifar10)("test", subset=2000, normalize=True, seed=3)


_REAL_NETS: dict = {}


def trained_small_cnns(device) -> dict:
    """``{nombre: {"model", "x", "y", "logits"}}``: la red de ``small_cnn`` entrenada 2 épocas con
    3000 imágenes de entrenamiento de MNIST y de CIFAR-10 (semillas, orden de los lotes y pasos
    fijos), en modo evaluación, con sus logits (en CPU) sobre ``real_test_data``. Se calcula una
    vez por proceso y dispositivo."""
    import torch.nn.functional as F

    from .data import load_cifar10, load_mnist

    key = str(device)
    if key in _REAL_NETS:
        return _REAL_NETS[key]
    real = {}
    for name, (channels, padding) in REAL_DATASETS.items():
        xtr, ytr = (load_mnist if name == "mnist" else load_cifar10)("train", subset=3000, normalize=True, seed=3)
        xte, yte = real_test_data(name)
        torch.manual_seed(0)
        net = small_cnn(channels, padding).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(0)
        net.train()
        for _epoch in range(2):
            for idx in torch.randperm(len(xtr), generator=gen).split(256):
                loss = F.cross_entropy(net(xtr[idx].to(device)), ytr[idx].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(xb.to(device)).cpu() for xb in xte.split(500)])
        real[name] = {"model": net, "x": xte, "y": yte, "logits": logits}
    _REAL_NETS[key] = real
    return real


def evaluation_collection(num_classes: int = 10):
    """La ``MetricCollection`` con la que la sonda llama a ``evaluate_with_metrics``: exactitud
    (micro), exhaustividad macro y matriz de confusión."""
    from torchmetrics import MetricCollection
    from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassRecall

    return MetricCollection({"exactitud": MulticlassAccuracy(num_classes=num_classes, average="micro"),
                             "recall_macro": MulticlassRecall(num_classes=num_classes, average="macro"),
                             "confmat": MulticlassConfusionMatrix(num_classes=num_classes)})


def watched_evaluation(evaluate, model, loader, metrics, device, *, train_first: bool) -> dict:
    """``{"resultado": evaluate(copia, loader, metrics, device), "pasadas": [[gradientes, modo
    entrenamiento], ...]}``: llama a la evaluación del alumno con una copia de ``model`` (en modo
    entrenamiento si ``train_first``) y anota cada pasada hacia delante. Con la copia, lo que haga
    la evaluación con el modelo (en modo entrenamiento, BatchNorm actualiza sus medias) no llega a
    las pruebas siguientes."""
    import copy

    model = copy.deepcopy(model).train(train_first)
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append([torch.is_grad_enabled(), module.training]))
    return {"resultado": evaluate(model, loader, metrics, device), "pasadas": seen}
