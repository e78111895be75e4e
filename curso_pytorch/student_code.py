"""El código que escribió el alumno, leído por quien califica (nunca ejecutado aquí).

Las reglas que no se pueden comprobar con datos («sin ``torch.optim.SGD``», nada de código
generado u oculto) se deciden sobre el código fuente entregado, fuera del núcleo del alumno:

- ``student_statements``: las sentencias de nivel superior de cada celda de código que no son de
  la copia del alumno (``release/``) tal cual: las respuestas, las celdas añadidas y las cambiadas.
  Antes se traduce la sintaxis de IPython (``%magia``, ``!orden``) a Python, como hace el núcleo.
- ``obfuscation``: construcciones que generan, ocultan o cargan código (``exec``, ``eval``,
  ``compile``, ``__import__``, ``importlib``, ``getattr`` con un nombre calculado, ``base64``,
  ``marshal``, ``codecs``, órdenes del sistema...). Con ellas el corrector no puede saber qué
  corrió: las pruebas que vienen detrás no puntúan y el motivo pide revisar a mano.
- ``forbidden_uses``: nombres prohibidos por el enunciado de un ejercicio, en su celda de respuesta
  o en cualquier celda añadida o cambiada por el alumno (así tampoco valen los alias ni los
  ganchos que calculen el resultado con lo prohibido). Llamar a otra respuesta propia está
  permitido: esa se juzga con las reglas de su propio ejercicio.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .course import grade_id, is_solution_cell, is_test_cell

# Funciones y módulos que generan, ocultan o cargan código, o que llegan al intérprete por debajo.
HIDING_CALLS = {"exec", "eval", "compile", "__import__", "globals", "locals", "vars", "breakpoint"}
HIDING_MODULES = {"importlib", "base64", "binascii", "marshal", "codecs", "pickle", "dill", "zlib", "ctypes",
                  "cffi", "subprocess", "runpy", "imp", "zipimport", "builtins", "gc", "inspect", "types"}
# Atributos de cualquier objeto (``.eval()`` o ``torch.compile`` no están: son de PyTorch).
HIDING_ATTRIBUTES = {"__globals__", "__code__", "__builtins__", "__dict__", "__subclasses__", "__closure__",
                     "__getattribute__", "__loader__", "__spec__", "f_globals", "f_locals", "f_back", "f_code",
                     "gi_frame", "tb_frame", "co_code", "system", "popen", "run_line_magic", "run_cell_magic",
                     "getoutput", "safe_execfile", "run_cell", "input_transformers_post",
                     "input_transformers_cleanup", "ast_transformers", "settrace", "setprofile", "_getframe"}
SYS_ATTRIBUTES = {"modules", "meta_path", "path_hooks", "path", "settrace", "setprofile", "_getframe", "addaudithook"}
NAME_FUNCTIONS = {"getattr", "setattr", "delattr"}  # solo con un nombre calculado


@dataclass(frozen=True)
class Statement:
    cell: int           # índice de la celda en el cuaderno
    answer: str | None  # grade_id si la celda es de respuesta
    node: ast.AST
    text: str


def python_source(source: str) -> str:
    """La celda como la ve Python después de IPython (las magias se vuelven llamadas)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


# Magias inofensivas: %matplotlib no ejecuta código; %time y %timeit ejecutan el suyo, que se lee
# como el resto. Cualquier otra (%run, %%bash, !orden, %load...) cuenta como código oculto.
HARMLESS_MAGICS = {"matplotlib"}
TIMING_MAGICS = {"time", "timeit"}


def _magic(node: ast.AST) -> tuple[str, str] | None:
    """(nombre, código) si ``node`` es una magia de IPython traducida (``get_ipython().run_*_magic``)."""
    call = node.value if isinstance(node, ast.Expr) else node.value if isinstance(node, ast.Assign) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("run_line_magic", "run_cell_magic") and call.args
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)):
        return None
    name, *rest = [a.value for a in call.args]
    return name, (rest[-1] if rest else "")


def _statements(source: str) -> list[ast.AST] | None:
    try:
        nodes = ast.parse(python_source(source)).body
    except (SyntaxError, ValueError):
        return None
    found = []
    for node in nodes:
        magic = _magic(node)
        if magic is not None and magic[0] in HARMLESS_MAGICS:
            continue
        if magic is not None and magic[0] in TIMING_MAGICS:
            found += _statements(magic[1]) or []
            continue
        found.append(node)
    return found


def _trusted(release) -> set[str]:
    """Las sentencias de la copia del alumno, fuera de las celdas de respuesta y de pruebas."""
    trusted = set()
    for cell in release.cells:
        if cell.cell_type == "code" and not is_test_cell(cell) and not is_solution_cell(cell):
            for node in _statements(cell.source) or []:
                trusted.add(ast.unparse(node))
    return trusted


def student_statements(nb, release) -> list[Statement]:
    """Las sentencias escritas o cambiadas por el alumno: las de sus respuestas y las que no están tal
    cual en la copia del alumno (en cualquier celda)."""
    trusted = _trusted(release)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or is_test_cell(cell):
            continue
        answer = grade_id(cell) if is_solution_cell(cell) else None
        # Una celda que no es Python válido no llega a ejecutarse (el núcleo da SyntaxError).
        for node in _statements(cell.source) or []:
            text = ast.unparse(node)
            if answer is not None or text not in trusted:
                found.append(Statement(index, answer, node, text))
    return found


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def hiding(node: ast.AST) -> str | None:
    """La primera construcción de ``node`` que genera, oculta o carga código (o None)."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id in HIDING_CALLS | {"__builtins__"}:
            return f"«{inner.id}»"
        if isinstance(inner, ast.Attribute) and inner.attr in HIDING_ATTRIBUTES:
            return f"«.{inner.attr}»"
        if (isinstance(inner, ast.Attribute) and inner.attr in SYS_ATTRIBUTES and isinstance(inner.value, ast.Name)
                and inner.value.id == "sys"):
            return f"«sys.{inner.attr}»"
        if isinstance(inner, ast.alias) and inner.name in {"sys", "os"} and inner.asname not in (None, inner.name):
            return f"el módulo «{inner.name}» con otro nombre"
        for module in _imported_modules(inner):
            if module.split(".")[0] in HIDING_MODULES or module in {"os.system", "os.popen"} or module.startswith("sys."):
                return f"el módulo «{module}»"
        if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in NAME_FUNCTIONS
                and (len(inner.args) < 2 or not isinstance(inner.args[1], ast.Constant))):
            return f"«{inner.func.id}» con un nombre calculado"
    return None


def obfuscation(statements: list[Statement]) -> tuple[int, str] | None:
    """(celda, motivo) de la primera sentencia del alumno que genera u oculta código; None si no hay."""
    for statement in statements:
        what = hiding(statement.node)
        if what is not None:
            return statement.cell, what
    return None


def _own_names(statements: list[Statement]) -> set[str]:
    """Nombres de las funciones y clases que define el propio alumno (llamarlas no es prohibido)."""
    return {inner.name for s in statements for inner in ast.walk(s.node)
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _identifiers(node: ast.AST, own: set[str], bare: bool) -> set[str]:
    """Los nombres que usa ``node``: atributos (``torch.softmax``), lo importado, los textos que
    nombran un atributo (``getattr(torch, "softmax")``) y, con ``bare``, también los nombres sueltos
    (``nn``, ``F``), salvo los de funciones y clases propias."""
    found = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Attribute):
            found.add(inner.attr)
        elif isinstance(inner, ast.alias):
            found.update(inner.name.split("."))
        elif isinstance(inner, ast.Name) and bare and inner.id not in own:
            found.add(inner.id)
        elif (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in NAME_FUNCTIONS | {"hasattr"}
              and len(inner.args) >= 2 and isinstance(inner.args[1], ast.Constant)):
            found.add(str(inner.args[1].value))
    return found


def forbidden_uses(statements: list[Statement], answer: str, names, answer_only=()) -> list[str]:
    """Usos prohibidos para el ejercicio ``answer`` (grade_id de su celda de respuesta): los nombres
    de ``names`` (como atributo, importados o pedidos a ``getattr``) en esa respuesta y en las
    celdas añadidas o cambiadas, y los de ``answer_only`` (módulos como ``nn`` o ``F``, también sueltos) en esa celda.
    Cada uso, en una línea para el alumno y quien revisa."""
    own = _own_names(statements)
    uses = []
    for statement in statements:
        if statement.answer not in (None, answer):
            continue  # otra respuesta: se juzga con las reglas de su ejercicio (llamarla está permitido)
        in_answer = statement.answer == answer
        used = _identifiers(statement.node, own, bare=False) & set(names)
        if in_answer:
            used |= _identifiers(statement.node, own, bare=True) & (set(answer_only) | set(names))
        if not used:
            continue
        listed = ", ".join(f"«{name}»" for name in sorted(used))
        if in_answer:
            uses.append(f"tu respuesta usa {listed}, que el enunciado no permite en este ejercicio")
        else:
            uses.append(f"la celda {statement.cell + 1} (escrita o cambiada por ti) usa {listed}, que el enunciado "
                        "no permite en este ejercicio; si tu respuesta no lo usa, pide que se revise a mano")
    return uses
