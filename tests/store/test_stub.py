"""The compiled store's stub declares exactly the Python twin's public interface."""

import ast
import inspect
from pathlib import Path

import pytest

from pynenc_fastmem import _orchestration_py, _store_py

from ..support import COMPILED_STORE, COMPILED_STORE_MISSING

STUB = Path(_store_py.__file__).with_name("_store_c.pyi")


def _stub_methods() -> dict[str, str]:
    tree = ast.parse(STUB.read_text())
    store = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Store")
    return {
        node.name: ast.unparse(node.args) + " -> " + ast.unparse(node.returns)
        for node in store.body
        if isinstance(node, ast.FunctionDef)
    }


def _python_methods() -> dict[str, str]:
    methods = {}
    for name, function in vars(_store_py.Store).items():
        if callable(function) and (not name.startswith("_") or name in ("__init__", "_check", "_state")):
            tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(function)))
            node = tree.body[0]
            assert isinstance(node, ast.FunctionDef)
            methods[name] = ast.unparse(node.args) + " -> " + ast.unparse(node.returns)
    return methods


def test_stub_matches_the_python_store_names_and_signatures() -> None:
    stub = _stub_methods()
    python = _python_methods()
    assert sorted(stub) == sorted(python)
    for name, signature in python.items():
        expected = signature.replace("DEFAULT_STRIPES", str(_store_py.DEFAULT_STRIPES)).replace(
            "EVICTIONS_PER_FINAL", str(_store_py.EVICTIONS_PER_FINAL)
        )
        assert stub[name] == expected, name


def test_stub_functions_match_the_python_twin() -> None:
    tree = ast.parse(STUB.read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert sorted(functions) == ["micros"]
    python = ast.parse(inspect.getsource(_store_py.micros)).body[0]
    assert isinstance(python, ast.FunctionDef)
    stub = functions["micros"]
    assert ast.unparse(stub.args) + str(ast.unparse(stub.returns)) == ast.unparse(python.args) + str(
        ast.unparse(python.returns)
    )


@pytest.mark.skipif(COMPILED_STORE is None, reason=COMPILED_STORE_MISSING)
def test_stub_declares_what_the_compiled_module_has() -> None:
    compiled = COMPILED_STORE
    tree = ast.parse(STUB.read_text())
    declared = {
        node.name if not isinstance(node, ast.AnnAssign) else ast.unparse(node.target)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AnnAssign))
    }
    assert declared == {"Store", "micros", "DEBUG_BUILD"}
    for name in declared:
        assert hasattr(compiled, name), name
    for name in _stub_methods():
        assert hasattr(compiled.Store, name), name


@pytest.mark.skipif(COMPILED_STORE is None, reason=COMPILED_STORE_MISSING)
def test_the_compiled_orchestration_part_has_the_twins_methods_and_parameters() -> None:
    twin = _orchestration_py.Orchestration
    compiled = type(COMPILED_STORE.Store().orchestration)
    public = [name for name, value in vars(twin).items() if callable(value) and not name.startswith("_")]
    assert public, "the twin has public methods"
    for name in [*public, "_check"]:
        twin_parameters = list(inspect.signature(getattr(twin, name)).parameters)
        assert list(inspect.signature(getattr(compiled, name)).parameters) == twin_parameters, name
    extra = {name for name in dir(compiled) if not name.startswith("_")} - set(public)
    assert extra == set(), f"the compiled part has methods the twin lacks: {extra}"
