"""The package layering of docs/architecture.md holds in the code: every module imports, no library module
imports the CLI (`keras_gst.commands`, `keras_gst.cli`), each package imports only the packages below it,
and there is no import cycle. Imports are read with `ast`, module-level and function-level alike."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "keras_gst"

# package -> the keras_gst packages it may import (itself included); docs/architecture.md
ALLOWED = {
    "layers": {"layers"},
    "models": {"layers", "models"},
    "weights": {"layers", "models", "weights"},
    "applications": {"models", "weights"},
    "analysis": {"layers", "models", "analysis"},
    "atomic": set(),
    "locks": set(),
    "errors": set(),
    "checks": {"errors"},
    "quiet": set(),
    "private_api": set(),
    "lazy": set(),
    "data": {"data", "models"},
    "evaluation": {"evaluation"},
    "export": {"layers", "models", "data", "evaluation", "export"},
    "training": {"layers", "models", "weights", "applications", "data", "analysis", "evaluation", "export", "training"},
}
CLI = {"commands", "cli"}
# stdlib-only helpers any package may use: atomic file writes, output locks, typed errors, argument checks, the log filter,
# the private Keras, keras-hub and TensorFlow APIs in one place, the packages' names imported on first use
BASE = {"atomic", "locks", "errors", "checks", "quiet", "private_api", "lazy"}
# modules of an optional extra: name -> the package it needs
OPTIONAL = {"keras_gst.benchmarks.torch_reference": "torch"}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _nodes(tree, module_level):
    """Every node, or (module_level) those run at import time: not inside a function body."""
    if not module_level:
        yield from ast.walk(tree)
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef)))


def imports_of(name, module_level=False):
    """The keras_gst modules `name` imports (`from a.b import c` counts as a.b.c when that is a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in _nodes(ast.parse(path.read_text(), str(path)), module_level):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t == "keras_gst" or t.startswith("keras_gst.")}
    found.discard(name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}
IMPORT_TIME_GRAPH = {name: imports_of(name, module_level=True) for name in MODULES}


def top(name):
    return name.split(".")[1] if "." in name else None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    importlib.import_module(name)


def test_no_library_module_imports_the_cli():
    offenders = {m: sorted(t for t in deps if top(t) in CLI) for m, deps in GRAPH.items() if top(m) not in CLI}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_packages_import_only_the_layers_below_them():
    offenders = {}
    for name, deps in GRAPH.items():
        package = top(name)
        if package in ALLOWED:
            bad = sorted(t for t in deps if top(t) not in ALLOWED[package] | (set() if package in BASE else BASE))
            if bad:
                offenders[name] = bad
    assert offenders == {}


def test_no_import_cycle():
    """No cycle among the imports that run at import time (a function-level import runs later, once every
    module is loaded; the layering rules above cover those too)."""
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(IMPORT_TIME_GRAPH.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in sorted(IMPORT_TIME_GRAPH):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_graph_reader_sees_imports():
    """Not blind: module-level and function-level imports are both edges."""
    assert "keras_gst.layers.gst_block" in GRAPH["keras_gst.models.gst_backbone"]  # module level
    assert "keras_gst.weights" in GRAPH["keras_gst.applications"]
    assert "keras_gst.weights.torch_convert" in GRAPH["keras_gst.weights"]  # inside load_weights
    assert "keras_gst.training.finetune" in GRAPH["keras_gst.commands.train"]  # inside _run_args
    assert "keras_gst.training.finetune" not in IMPORT_TIME_GRAPH["keras_gst.commands.train"]
