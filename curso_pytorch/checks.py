"""Utilidades para las celdas de pruebas (visibles y ocultas) de los laboratorios.

Un fallo dentro de ``check(...)`` se muestra como una sola línea en español, sin la pila de
llamadas: el alumno ve qué comprobación falló, no el código de la prueba oculta.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch

from .data import DatasetUnavailableError
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
    except DatasetUnavailableError:  # faltan los datos del curso: no es cosa del código del alumno
        raise
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


def float32_atol(inputs, atol=1e-6) -> float:
    """Tolerancia absoluta para un resultado calculado en float32 a partir de ``inputs``, frente a una
    referencia en float64. Restar números del orden de M (unos logits menos su logsumexp, por
    ejemplo) pierde hasta M·eps de float32, así que la tolerancia es al menos 4·eps·M: con logits
    de ±1000, una versión correcta con ``torch.logsumexp`` se desvía unos 2e-5 del valor exacto y la
    tolerancia es 4.8e-4; los errores que se buscan (NaN, infinitos, un factor 1/ln 2, un término
    de más) quedan muy por encima."""
    scale = max(1.0, float(torch.as_tensor(inputs).detach().abs().max()))
    return max(atol, 4 * torch.finfo(torch.float32).eps * scale)


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


def unmoved_loader(x, y, batch_size, **options):
    """``DataLoader`` cuyos lotes son ``NotMoved`` hasta que se mueven con ``.to(device)``; con las
    mismas ``options`` (``shuffle``, ``seed``...), los mismos lotes que ``data.make_loader``."""
    from torch.utils.data import default_collate

    from .data import make_loader

    return make_loader(x.cpu(), y.cpu(), batch_size,
                       collate_fn=lambda batch: tuple(t.as_subclass(NotMoved) for t in default_collate(batch)),
                       **options)


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


# --------------------------------------------------------------------------- optimizadores y planificadores
# Las usan la sonda, con las clases y funciones del alumno, y el juez, con las de PyTorch (en float64
# donde tiene sentido): las mismas entradas con semilla, los mismos pasos. Los avisos se silencian
# (nbgrader pone a 0 una celda que escribe en stderr), salvo los de APIs obsoletas con
# ``CURSO_STRICT_WARNINGS``.

#: Lo que no pueden usar las clases de un ejercicio de optimizadores: los de PyTorch y sus funciones internas.
FORBIDDEN_OPTIMIZERS = ("SGD", "Adam", "AdamW", "sgd", "adam", "adamw", "_functional", "_single_tensor_sgd",
                        "_multi_tensor_sgd", "_fused_sgd", "_fused_sgd_", "_single_tensor_adam",
                        "_multi_tensor_adam", "_fused_adam", "_fused_adam_", "_fused_adamw_")

#: Formas de los parámetros de las pruebas paso a paso y la escala de sus gradientes (la última, por
#: debajo de los ε habituales de Adam: ahí se nota dónde se suma ε).
OPTIMIZER_SHAPES = ((4, 3, 3, 3), (4,), (10, 12), (10,), (7,))
GRADIENT_SCALES = (1.0, 0.1, 3.0, 1e-3, 1e-7)


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        apply_strict_warnings()
        yield


def class_lineage(cls):
    """``módulo.nombre`` de cada clase del MRO de ``cls`` (o un texto si no es una clase)."""
    if not isinstance(cls, type):
        return f"<no es una clase: {type(cls).__name__}>"
    return [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]


def optimizer_inputs(steps: int, seed: int = 0):
    """Los parámetros iniciales y los gradientes de cada paso (float32, CPU), siempre iguales: unos
    10 % de los elementos de cada gradiente valen 0."""
    gen = torch.Generator().manual_seed(seed)
    initial = [torch.randn(shape, generator=gen) for shape in OPTIMIZER_SHAPES]
    grads = []
    for _ in range(steps):
        step = []
        for shape, scale in zip(OPTIMIZER_SHAPES, GRADIENT_SCALES):
            g = torch.randn(shape, generator=gen) * scale
            g[torch.rand(shape, generator=gen) < 0.1] = 0.0
            step.append(g)
        grads.append(step)
    return initial, grads


def _optimizer_state(optimizers, params) -> list[dict]:
    found = []
    for p in params:
        state = {}
        for opt in optimizers:
            if p in opt.state:
                state = {str(k): v.detach().clone() if isinstance(v, torch.Tensor) else v
                         for k, v in dict(opt.state[p]).items()}
        found.append(state)
    return found


def optimizer_steps(make, steps=50, *, seed=0, dtype=torch.float32, first=0, grad_from=None, lr_every=0,
                    lr_factor=0.5, resume_at=None) -> dict:
    """Aplica los pasos ``first .. steps-1`` de un optimizador a los parámetros de ``optimizer_inputs``
    (en ``dtype``). ``make(params)`` crea el optimizador (o una lista de ellos) con la lista de parámetros.

    - ``grad_from``: ``{índice: primer paso con gradiente}`` (``None``: nunca); antes, su ``grad`` es None.
    - ``lr_every``: cada tantos pasos multiplica la tasa de cada grupo por ``lr_factor`` (como un planificador).
    - ``resume_at``: en ese paso guarda ``state_dict()``; al final crea otro optimizador con parámetros
      copiados de ese momento, le carga el estado y repite los pasos que faltaban.

    Devuelve ``{"trayectoria": (pasos, n) con los parámetros concatenados tras cada paso, "estado": el de
    cada parámetro al final, "grupos": las opciones de cada grupo al crearlo}`` y, con ``resume_at``,
    ``"reanudada"`` (la trayectoria de los pasos repetidos)."""
    import copy

    initial, grads = optimizer_inputs(steps, seed)
    grad_from = grad_from or {}

    def build(values):
        params = [v.to(dtype).clone().requires_grad_() for v in values]
        made = make(params)
        return params, (list(made) if isinstance(made, (list, tuple)) else [made])

    def run(params, optimizers, ks, saved=None):
        path = []
        for k in ks:
            if saved is not None and k == resume_at:
                saved.append((copy.deepcopy([o.state_dict() for o in optimizers]), [p.detach().clone() for p in params]))
            if lr_every and k and k % lr_every == 0:
                for opt in optimizers:
                    for group in opt.param_groups:
                        group["lr"] *= lr_factor
            for i, p in enumerate(params):
                start = grad_from.get(i, 0)
                p.grad = grads[k][i].to(dtype).clone() if start is not None and k >= start else None
            for opt in optimizers:
                opt.step()
            path.append(torch.cat([p.detach().flatten() for p in params]).clone())
        return torch.stack(path)

    with _quiet():
        params, optimizers = build(initial)
        groups = [{str(k): v for k, v in g.items() if k != "params"} for o in optimizers for g in o.param_groups]
        saved = []
        out = {"trayectoria": run(params, optimizers, range(first, steps), saved), "grupos": groups,
               "estado": _optimizer_state(optimizers, params)}
        if resume_at is not None:
            states, values = saved[0]
            again, reloaded = build(values)
            for opt, state in zip(reloaded, states):
                opt.load_state_dict(state)
            out["reanudada"] = run(again, reloaded, range(resume_at, steps))
    return out


def scheduler_rates(make_scheduler, epochs: int, steps_per_epoch: int, lrs=(0.1, 0.02)) -> dict:
    """Las tasas de los dos grupos de un SGD tras 0, 1, ..., T llamadas a ``scheduler.step()`` (T =
    ``epochs * steps_per_epoch``), con el planificador de ``make_scheduler(optimizer, epochs, steps_per_epoch)``."""
    with _quiet():
        a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": lrs[1]}], lr=lrs[0], momentum=0.9)
        scheduler = make_scheduler(opt, epochs, steps_per_epoch)
        rates = []
        for _ in range(epochs * steps_per_epoch + 1):
            rates.append([g["lr"] for g in opt.param_groups])
            opt.step()
            scheduler.step()
    return {"es_planificador": isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler), "tasas": rates}


class LeNet(torch.nn.Module):
    """La red tipo LeNet de las pruebas de CIFAR-10 (3 × 32 × 32 -> 10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 6, 5)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        import torch.nn.functional as F

        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


def lenet(seed: int) -> LeNet:
    """Una ``LeNet`` con la inicialización de PyTorch a partir de ``seed`` (sin tocar el generador global)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LeNet()


def epoch_run(train_fn, x, y, *, seed, batch=64, momentum=0.0, scheduled=False, device="cpu",
              dtype=torch.float32) -> dict:
    """Una época de ``train_fn(model, loader, loss_fn, optimizer[, scheduler])`` con una ``lenet(seed)``
    que llega en modo evaluación, SGD (lr=0.05) y, con ``scheduled``, ``LambdaLR`` con factor 1/(1+t).
    Devuelve lo devuelto, la tasa de cada ``optimizer.step()``, los pasos del planificador, el modo
    del modelo al terminar y los pesos."""
    from .data import make_loader

    with _quiet():
        net = lenet(seed).to(device, dtype)
        net.eval()
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=momentum)
        used = []
        opt.register_step_pre_hook(lambda o, args, kwargs: used.append(o.param_groups[0]["lr"]))
        extra = ()
        if scheduled:
            extra = (torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + t)),)
        out = train_fn(net, make_loader(x.to(dtype), y, batch_size=batch), torch.nn.CrossEntropyLoss(), opt, *extra)
        return {"perdida": float(out) if isinstance(out, float) else out, "tasas": used, "pasos_planificador": extra[0].last_epoch if extra else None,
                "modo_entrenamiento": net.training, "pesos": [p.detach().clone() for p in net.parameters()]}


def cifar_training(make_optimizer, x, y, *, epochs=2, batch=100, order_seed=0, start=None, seed=0) -> dict:
    """Entrena una ``lenet(seed)`` (o desde los pesos ``start``) ``epochs`` épocas con el optimizador
    de ``make_optimizer(parámetros)``, siempre en el mismo orden de lotes. Devuelve la pérdida media
    por ejemplo de cada época y los pesos finales."""
    import torch.nn.functional as F

    with _quiet():
        net = lenet(seed).to(x.device)
        if start is not None:
            net.load_state_dict(start)
        opt = make_optimizer(net.parameters())
        gen = torch.Generator().manual_seed(order_seed)
        losses = []
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen).to(x.device)
            total, count = 0.0, 0
            for k in range(0, len(x), batch):
                i = order[k:k + batch]
                opt.zero_grad()
                loss = F.cross_entropy(net(x[i]), y[i])
                loss.backward()
                opt.step()
                total, count = total + loss.item() * len(i), count + len(i)
            losses.append(total / count)
        return {"perdidas": losses, "pesos": {k: v.detach().clone() for k, v in net.state_dict().items()}}


def warm_start_weights(device, cached: bool = True) -> dict:
    """Los pesos de partida de los entrenamientos de CIFAR-10 del laboratorio 05: una época de
    ``AdamW(lr=2e-3)`` desde ``lenet(0)`` con sus 3000 imágenes de entrenamiento
    (``load_cifar10("train", subset=3000, normalize=True, seed=2)``), pasada la meseta inicial.

    Con ``cached``, si la caché de datos ya los tiene (``data.load_derived``) se leen de allí: en la
    caja el núcleo no repite esa época. El juez pide ``cached=False``: entrena en su proceso y los
    deja en la caché."""
    from .data import derived, load_cifar10

    device = torch.device(device)

    def compute():
        x, y = load_cifar10("train", subset=3000, normalize=True, seed=2)
        with torch.random.fork_rng(devices=[]):
            weights = cifar_training(lambda p: torch.optim.AdamW(p, lr=2e-3, foreach=False), x.to(device),
                                     y.to(device), epochs=1, order_seed=1)["pesos"]
        return {k: v.cpu() for k, v in weights.items()}

    return {k: v.to(device) for k, v in derived(f"inicio_adamw_lenet-{device.type}", compute, cached).items()}


# Para el juez: los datos de ``optimizer_steps`` que llegan de la sonda, comprobados y comparados.

def _tensor_sizes() -> list[int]:
    return [math.prod(shape) for shape in OPTIMIZER_SHAPES]


def steps_result(value, rows: int, what: str) -> dict:
    """``value`` con la forma que devuelve ``optimizer_steps`` (``rows`` pasos), o un fallo con el motivo."""
    n = sum(_tensor_sizes())
    if not isinstance(value, dict) or not {"trayectoria", "estado", "grupos"} <= set(value):
        raise CheckFailed(f"{what}: los pasos no devolvieron la trayectoria y el estado")
    path = value["trayectoria"]
    if not (isinstance(path, torch.Tensor) and path.is_floating_point() and tuple(path.shape) == (rows, n)):
        raise CheckFailed(f"{what}: la trayectoria de los parámetros no tiene la forma esperada")
    states, groups = value["estado"], value["grupos"]
    if not (isinstance(states, list) and len(states) == len(OPTIMIZER_SHAPES) and all(isinstance(s, dict) for s in states)):
        raise CheckFailed(f"{what}: optimizer.state no es un diccionario por parámetro")
    if not (isinstance(groups, list) and all(isinstance(g, dict) for g in groups)):
        raise CheckFailed(f"{what}: optimizer.param_groups no es una lista de diccionarios")
    return value


def close_steps(actual, expected, *, first=0, only=None, rtol=1e-5, what="los parámetros") -> None:
    """Trayectorias ``(pasos, n)`` de ``optimizer_steps``: cada tensor de parámetros, tras cada paso, con
    una tolerancia relativa a su escala (el error de redondeo de float32 crece con el tamaño de las
    actualizaciones, no con el valor de cada elemento). ``first``: el primer paso de las trayectorias;
    ``only``: los índices de los tensores que se comparan."""
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what}: la trayectoria no tiene la forma esperada")
    a, e = actual.detach().double(), expected.detach().double()
    gaps, wrong = [], []
    for index, (ca, ce) in enumerate(zip(a.split(_tensor_sizes(), 1), e.split(_tensor_sizes(), 1))):
        if only is None or index in only:
            gap = (ca - ce).abs().nan_to_num(math.inf)
            gaps.append(gap)
            wrong.append(~(gap <= rtol * (ce.abs() + ce.abs().max())))
    gaps, wrong = torch.cat(gaps, 1), torch.cat(wrong, 1)
    if bool(wrong.any()):
        row = int(wrong.any(dim=1).nonzero()[0])
        raise CheckFailed(f"{what} tras el paso {first + row + 1} no coinciden con lo esperado "
                          f"(diferencia máxima {float(gaps[row].max()):.3g})")


def close_scaled(actual, expected, *, rtol=1e-5, what="el valor") -> None:
    """``close`` con una tolerancia absoluta relativa al mayor valor de ``expected``."""
    expected = torch.as_tensor(expected).double()
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    close(actual, expected, rtol=rtol, atol=max(rtol * scale, 1e-300), what=what)


def step_count(value):
    """El número de ``state["step"]`` (entero, float o tensor de un elemento), o None si no lo es."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


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


@contextlib.contextmanager
def one_thread():
    """PyTorch con un solo hilo en la CPU mientras dura el bloque (luego, los que tenía)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_REAL_NETS: dict = {}
#: El nombre de las redes pequeñas en la caché de datos (``data.derived``): entrenadas en la CPU con un hilo.
SMALL_NETS_DERIVED = "redes_pequenas-cpu-1hilo"


def trained_small_cnns(device, cached: bool = True) -> dict:
    """``{nombre: {"model", "x", "y", "logits"}}``: la red de ``small_cnn`` entrenada 2 épocas con
    3000 imágenes de entrenamiento de MNIST y de CIFAR-10 (semillas, orden de los lotes y pasos
    fijos), en modo evaluación y en ``device``, con sus logits (en CPU) sobre ``real_test_data``.
    Se calcula una vez por proceso y dispositivo.

    Se entrena en la CPU con un solo hilo, sea cual sea ``device``: así el núcleo y el juez obtienen
    exactamente la misma red aunque cada uno tenga otro número de hilos (con varios procesos, cada
    núcleo tiene menos) o la GPU use algoritmos no deterministas. Con Adam, un redondeo distinto en
    un gradiente casi nulo (el sesgo de la convolución que va antes de BatchNorm) cambia el peso en
    un paso entero: con 1 y 2 hilos, los logits difieren en 0,08 y el juez tomaría la red de la
    sonda por otra.

    Con ``cached``, si la caché de datos ya tiene el resultado (``data.load_derived``) se lee de
    allí: en la caja, donde la caché es de solo lectura, el núcleo no repite el entrenamiento. El
    juez pide ``cached=False``: entrena en su proceso y deja el resultado en la caché."""
    import torch.nn.functional as F

    from .data import derived, load_cifar10, load_mnist

    device = torch.device(device)
    key = (str(device), cached)
    if key in _REAL_NETS:
        return _REAL_NETS[key]

    def new_net(channels, padding):
        with torch.random.fork_rng(devices=[]):  # leída o entrenada, sin tocar el generador global
            torch.manual_seed(0)
            return small_cnn(channels, padding)

    def train():
        trained = {}
        for dataset, (channels, padding) in REAL_DATASETS.items():
            xtr, ytr = (load_mnist if dataset == "mnist" else load_cifar10)("train", subset=3000, normalize=True,
                                                                            seed=3)
            net = new_net(channels, padding)
            opt = torch.optim.Adam(net.parameters(), lr=3e-3)
            gen = torch.Generator().manual_seed(0)
            net.train()
            with torch.random.fork_rng(devices=[]), one_thread():
                torch.manual_seed(0)
                for _epoch in range(2):
                    for idx in torch.randperm(len(xtr), generator=gen).split(256):
                        loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                net.eval()
                with torch.no_grad():
                    logits = torch.cat([net(xb) for xb in real_test_data(dataset)[0].split(500)])
            trained[dataset] = {"estado": {k: v.detach().clone() for k, v in net.state_dict().items()},
                                "logits": logits}
        return trained

    saved = derived(SMALL_NETS_DERIVED, train, cached)
    real = {}
    for dataset, (channels, padding) in REAL_DATASETS.items():
        net = new_net(channels, padding)
        net.load_state_dict(saved[dataset]["estado"])
        net.to(device).eval()
        xte, yte = real_test_data(dataset)
        real[dataset] = {"model": net, "x": xte, "y": yte, "logits": saved[dataset]["logits"]}
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


@contextlib.contextmanager
def watched_moves(module, record):
    """Mientras dura, cada ``module.to(...)`` llama a ``record`` con el dispositivo de destino (un
    ``str``; en una máquina sin GPU es la única forma de ver si se movió)."""
    move = module.to

    def watched(*args, **kwargs):
        record(str(torch._C._nn._parse_to(*args, **kwargs)[0]))
        return move(*args, **kwargs)

    module.to = watched
    try:
        yield
    finally:
        del module.to


def watched_evaluation(evaluate, model, loader, metrics, device, *, train_first: bool) -> dict:
    """``{"resultado": evaluate(copia, loader, metrics, device), "pasadas": [[gradientes, modo
    entrenamiento], ...], "metricas_a": [dispositivo, ...], "dispositivo": device}``: llama a la
    evaluación del alumno con una copia de ``model`` (en modo entrenamiento si ``train_first``) y anota
    cada pasada hacia delante y cada ``metrics.to(...)``. Con la copia, lo que haga la evaluación con
    el modelo (en modo entrenamiento, BatchNorm actualiza sus medias) no llega a las pruebas siguientes."""
    import copy

    model = copy.deepcopy(model).train(train_first)
    seen, moves = [], []
    model.register_forward_hook(lambda module, inputs, output: seen.append([torch.is_grad_enabled(), module.training]))
    with watched_moves(metrics, moves.append):
        result = evaluate(model, loader, metrics, device)
    return {"resultado": result, "pasadas": seen, "metricas_a": moves, "dispositivo": str(torch.device(device))}
