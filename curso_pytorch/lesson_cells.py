"""Celdas de la lección que la calificación no necesita ejecutar.

Al calificar solo puntúan las celdas de pruebas; las demostraciones de la lección (figuras,
entrenamientos de ejemplo) se llevan sin embargo buena parte del tiempo de cada entrega. Quien
califica (nunca el núcleo del alumno) decide aquí, leyendo el código, qué celdas no se ejecutan:

- solo celdas de la copia del alumno (``release/``) tal cual, sin metadatos de nbgrader: lo que el
  alumno escribió o cambió siempre se ejecuta;
- solo si ninguna celda posterior que sí se ejecuta puede notar su falta: ni lee un nombre que la
  celda define, ni un valor que la celda lee (y podría haber modificado: un modelo que entrena,
  una lista a la que añade). Los módulos importados no cuentan como valores modificables;
- se decide de la última celda a la primera, así que una cadena de demostraciones (cargar datos,
  entrenar, dibujar) se salta entera si nada de lo que viene detrás la usa;
- ante cualquier duda (una celda que no se puede analizar, ``from x import *``) se ejecuta, y una
  celda posterior que no se puede analizar hace que se ejecute todo lo anterior.

Las celdas saltadas quedan en el cuaderno calificado con una nota en lugar de su salida.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass
from functools import lru_cache

from .course import grade_id

SKIP = "se salta"
SKIPPED_NOTE = "[Lección: esta celda no se ejecuta al calificar; no influye en la nota.]\n"


@dataclass(frozen=True)
class CellNames:
    free_loads: frozenset[str]  # los que puede leer de celdas anteriores (antes de definirlos ella)
    touched: frozenset[str]     # los que podría modificar: x.algo, x[...], f(x), for _ in x
    binds: frozenset[str]       # nombres globales que define o borra
    binds_top: frozenset[str]   # los que define seguro (si la celda termina bien)
    imports: frozenset[str]     # los que define con import
    functions: dict             # función o clase que define -> lo que su cuerpo lee o modifica
    constants: dict             # nombre que solo recibe valores inmutables -> funciones llamadas
    star: bool                  # from x import *: define nombres que no se conocen


def _import_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    return {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}


def _names(source: str, mode: str = "exec") -> tuple[set[str], set[str], set[str], dict[str, set[str]]]:
    """(lee, define, importa, {función: lo que lee}) como variables globales: lo local de una
    función (sus argumentos, lo que asigna) no cuenta; lo que lee de fuera, o declara ``global``, sí."""
    reads, binds, imports, functions = set(), set(), set(), {}
    tables = [(symtable.symtable(source, "<celda>", mode), None)]
    while tables:
        table, owner = tables.pop()
        top = table.get_type() == "module"
        for symbol in table.get_symbols():
            name = symbol.get_name()
            global_here = top or symbol.is_global() or symbol.is_declared_global()
            if global_here and symbol.is_referenced():
                reads.add(name)
                if owner is not None:
                    functions[owner].add(name)
            if global_here and (symbol.is_assigned() or symbol.is_imported()):
                binds.add(name)
                if symbol.is_declared_global():
                    reads.add(name)  # puede leer el de antes y modificarlo
                    if owner is not None:
                        functions[owner].add(name)
            if top and symbol.is_imported():
                imports.add(name)
        for child in table.get_children():
            # Lo que lee una función anidada cuenta para la función de primer nivel que la contiene.
            name = owner if owner is not None else child.get_name()
            functions.setdefault(name, set())
            tables.append((child, name))
    return reads, binds, imports, {k: v for k, v in functions.items() if k in binds}


def _reads(node: ast.AST | None) -> set[str]:
    """Nombres globales que lee una expresión (las variables de sus comprensiones no)."""
    if node is None:
        return set()
    return _names(ast.unparse(node), "eval")[0]


def _targets(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def _definite_binds(node: ast.stmt) -> set[str]:
    """Lo que una sentencia de primer nivel deja definido seguro si termina bien (una excepción
    detiene la celda). Un bucle puede no dar vueltas y un ``with`` puede tragarse una excepción:
    de ellos solo cuenta el ``as`` del ``with``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return _import_names(node)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return set().union(*(_targets(t) for t in node.targets))
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        return _targets(node.target)
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return set().union(*(_targets(item.optional_vars) for item in node.items))
    return set()


def _free_reads(body: list[ast.stmt], bound: set[str]) -> set[str]:
    """Lo que leen las sentencias ``body`` sin haberlo definido antes ellas mismas (``bound``)."""
    free, bound = set(), set(bound)
    for node in body:
        if isinstance(node, (ast.For, ast.AsyncFor)):
            free |= _reads(node.iter) - bound
            free |= _free_reads(node.body, bound | _targets(node.target)) | _free_reads(node.orelse, bound)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                free |= _reads(item.context_expr) - bound
            free |= _free_reads(node.body, bound | _definite_binds(node))
        elif isinstance(node, (ast.If, ast.While)):
            free |= (_reads(node.test) - bound) | _free_reads(node.body, bound) | _free_reads(node.orelse, bound)
        elif isinstance(node, ast.Try):
            free |= _free_reads(node.body, bound) | _free_reads(node.orelse, bound) | _free_reads(node.finalbody, bound)
            for handler in node.handlers:
                free |= (_reads(handler.type) - bound) | _free_reads(handler.body, bound | {handler.name or ""})
        else:
            free |= _names(ast.unparse(node))[0] - bound
        bound |= _definite_binds(node)
    return free


def _touched(tree: ast.AST) -> set[str]:
    """Nombres usados donde se podría modificar su valor: ``x.algo`` (métodos incluidos),
    ``x[...]``, como argumento de una llamada, iterados, o llamados (``f()``: lo que f modifique)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.value, ast.Name):
            found.add(node.value.id)
        elif isinstance(node, ast.Call):
            found |= {a.id for a in [node.func, *node.args, *(k.value for k in node.keywords)]
                      if isinstance(a, ast.Name)}
            found |= {a.value.id for a in node.args if isinstance(a, ast.Starred) and isinstance(a.value, ast.Name)}
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(node.iter, ast.Name):
            found.add(node.iter.id)
    return found


# Llamadas que devuelven valores inmutables: el dispositivo y el modo de calificación del curso
# (``curso_pytorch.notebook``), y conversiones a número o texto.
IMMUTABLE_CALLS = {"setup", "is_grading", "best_device", "device", "len", "int", "float", "str", "bool"}


def _immutable(node: ast.AST, calls: set[str]) -> bool:
    """¿La expresión da un valor que nadie puede modificar (número, texto, tupla de ellos...)?"""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple):
        return all(_immutable(e, calls) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Not) or _immutable(node.operand, calls)
    if isinstance(node, ast.BinOp):
        return _immutable(node.left, calls) and _immutable(node.right, calls)
    if isinstance(node, ast.BoolOp):
        return all(_immutable(e, calls) for e in node.values)
    if isinstance(node, ast.IfExp):  # la condición puede ser cualquier cosa: el valor es una rama
        return _immutable(node.body, calls) and _immutable(node.orelse, calls)
    if isinstance(node, ast.Call) and all(_immutable(a, calls) for a in node.args):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in IMMUTABLE_CALLS and (not node.keywords or name == "setup"):
            calls.add(name)
            return True
    return False


def _constants(tree: ast.Module) -> dict[str, set[str]]:
    """Nombres que la celda solo asigna, en primer nivel, con valores inmutables."""
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    found: dict[str, set[str]] = {}
    counted: dict[str, int] = {}
    for node in tree.body:
        calls: set[str] = set()
        if isinstance(node, ast.Assign) and _immutable(node.value, calls):
            for name in set().union(*(_targets(t) for t in node.targets)):
                found.setdefault(name, set()).update(calls)
                counted[name] = counted.get(name, 0) + 1
    return {name: calls for name, calls in found.items() if counted[name] == stores.get(name)}


def cell_names(source: str) -> CellNames | None:
    """Los nombres que lee, modifica y define una celda (None si no se puede analizar)."""
    from .student_code import python_source

    try:
        code = python_source(source)
        tree = ast.parse(code)
        loads, binds, imports, functions = _names(code)
        free = _free_reads(tree.body, set())
    except (SyntaxError, ValueError):
        return None
    top = set().union(*(_definite_binds(node) for node in tree.body)) if tree.body else set()
    star = any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree))
    return CellNames(frozenset(free), frozenset(_touched(tree) & loads), frozenset(binds),
                     frozenset(top), frozenset(imports), functions, _constants(tree), star)


# Las celdas de la lección (del profesor) son las mismas en todas las entregas de un lote: se analizan
# una vez. Las del alumno no se guardan (podrían ser enormes). Quien lo usa no modifica lo que devuelve.
_lesson_cell_names = lru_cache(maxsize=1024)(cell_names)


def plan(nb, release) -> dict[int, str]:
    """Para cada celda de código de ``nb`` (el cuaderno entregado), ``SKIP`` si no hace falta
    ejecutarla o, si no, por qué se ejecuta.

    ``release`` es la copia del alumno del mismo cuaderno: solo sus celdas de código sin
    metadatos de nbgrader pueden saltarse, y solo si la entregada es idéntica.
    """
    lesson = {c.source for c in release.cells if c.cell_type == "code" and not c.metadata.get("nbgrader")}
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    names = {i: _lesson_cell_names(c.source) if c.source in lesson else cell_names(c.source) for i, c in code}
    # Un valor (modificable) es un nombre que alguna celda asigna (no con import, def o class). Una
    # llamada a una función del cuaderno puede modificar lo que lee su cuerpo.
    values, reads_of, constants = set(), {}, {}
    for info in names.values():
        if info is not None:
            values |= info.binds - info.imports - set(info.functions)
            for function, read in info.functions.items():
                reads_of.setdefault(function, set()).update(read)
    # Un nombre que todas las celdas asignan con valores inmutables no es un valor modificable (si
    # alguna llamada es a una función del propio cuaderno, sí).
    for info in names.values():
        if info is not None:
            for name in info.binds - info.imports - set(info.functions):
                calls = info.constants.get(name)
                ok = calls is not None and not calls & set(reads_of) and constants.get(name, True)
                constants[name] = ok
    values -= {name for name, ok in constants.items() if ok}

    def touched(info: CellNames) -> set[str]:
        seen, pending = set(), list(info.touched)
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.add(name)
                pending += reads_of.get(name, ())
        return seen & values

    plan: dict[int, str] = {}
    needed: set[str] | None = set()  # None: todo (detrás hay una celda que no se puede analizar)
    for i, cell in reversed(code):
        info = names[i]
        if info is None:
            needed = None
            plan[i] = "no se puede analizar"
            continue
        if cell.source not in lesson or grade_id(cell) or cell.metadata.get("nbgrader"):
            plan[i] = "no es de la lección tal cual"
        elif needed is None or info.star:
            plan[i] = "no se puede saber qué usa lo que viene detrás"
        elif info.binds & needed or touched(info) & needed:
            plan[i] = "lo de detrás usa " + ", ".join(sorted((info.binds | touched(info)) & needed))
        else:
            plan[i] = SKIP
            continue
        if needed is not None:
            needed = (needed - info.binds_top) | info.free_loads
    return dict(sorted(plan.items()))


def skippable(nb, release) -> set[int]:
    """Índices de las celdas de ``nb`` (el cuaderno entregado) que no hace falta ejecutar."""
    return {i for i, why in plan(nb, release).items() if why == SKIP}


# Paquetes que el núcleo puede importar antes de la entrega (los del curso y sus dependencias).
PRELOADABLE = ("torch", "torchvision", "torchmetrics", "numpy", "matplotlib", "sklearn", "curso_pytorch")


def course_imports(release) -> list[str]:
    """Los módulos de ``PRELOADABLE`` que importan las celdas de código de la copia del alumno
    (código del curso, no del alumno) que se ejecutan al calificarla tal cual, en orden y sin
    repetir. Lo que importa una celda que solo se ejecuta porque el alumno la cambió (o porque la
    usa su respuesta) se importa entonces, al ejecutarla."""
    from .student_code import python_source

    found: list[str] = []
    skipped = skippable(release, release)
    for i, cell in enumerate(release.cells):
        if cell.cell_type != "code" or i in skipped:
            continue
        try:
            tree = ast.parse(python_source(cell.source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name.split(".")[0] in PRELOADABLE and name not in found:
                    found.append(name)
    return found
