"""La forma del paquete: cada módulo importa solo módulos de debajo (sin ciclos) y ninguno toma
nombres privados (``_algo``) de otro."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "curso_pytorch"


def _imports(path: Path) -> list[tuple[str, str]]:
    """Pares (módulo del paquete, nombre importado de él) de un archivo, también dentro de
    funciones; ``from . import x`` da ``(x, "")``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("curso_pytorch")):
            inner = (node.module or "").removeprefix("curso_pytorch").lstrip(".").split(".")[0]
            found += [(inner, alias.name) if inner else (alias.name, "") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name.split(".")[1], "") for a in node.names
                      if a.name.startswith("curso_pytorch.")]
    return found


def _graph() -> dict[str, set[str]]:
    return {
        path.stem: {module for module, _ in _imports(path) if module != path.stem}
        for path in PACKAGE.glob("*.py")
    }


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "en curso"
        for dep in sorted(graph.get(module, ())):
            assert state.get(dep) != "en curso", "ciclo de importaciones: " + " -> ".join([*path, module, dep])
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = "hecho"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_no_private_names_across_modules():
    private = [
        f"{path.name} importa {name} de {module}"
        for path in PACKAGE.glob("*.py")
        for module, name in _imports(path)
        if name.startswith("_") and module != path.stem
    ]
    assert not private, private


def test_the_checker_sees_a_cycle(tmp_path, monkeypatch):
    """La comprobación no es vacía: un ciclo de dos módulos se detecta."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("from .a import _x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    with pytest.raises(AssertionError, match="a -> b -> a"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match="_x"):
        test_no_private_names_across_modules()


def test_grading_commands_use_one_worker_per_core_by_default(monkeypatch):
    from curso_pytorch import cli, workers

    monkeypatch.setattr(workers, "default_workers", lambda: 7)
    parser = cli.build_parser()
    assert parser.parse_args(["calificar"]).procesos == 7
    assert parser.parse_args(["demo"]).procesos == 7
    assert parser.parse_args(["calificar", "--procesos", "1"]).procesos == 1


def test_slowest_first_lists_existing_test_files():
    """El orden de reparto de ``tests/conftest.py`` (lo que más tarda, primero) nombra archivos que
    existen: uno renombrado volvería al final sin avisar."""
    from tests.conftest import SLOWEST_FIRST

    missing = [name for name in SLOWEST_FIRST if not (Path(__file__).parent / name).is_file()]
    assert not missing, missing
