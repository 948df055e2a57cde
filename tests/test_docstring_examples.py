"""The public API's docstrings (keras-hub's style): every public class and function has type hints (each
parameter, and a function's return) and an ``Example:`` with a ```python block, and each block runs as written.

Public names: the ``__all__`` (else the public attributes) of `PACKAGES`, as `keras_gst.__all__` lists the
model family. `COVERED` says which modules' names are held to this so far; ``("keras_gst",)`` would be all.

An example runs in a fresh namespace in its own empty working directory (it makes its own tiny inputs), with
docs_runner's Python runner (tracebacks name the source file's lines). A comment on a ``print(...)`` line is
the output it must print: that line must appear in the example's output, in order.
"""

import ast
import contextlib
import functools
import importlib
import inspect
import io
import logging
import os
import re
import textwrap
import tokenize
import typing

import pytest

import docs_runner

PACKAGES = (
    "keras_gst", "keras_gst.layers", "keras_gst.models", "keras_gst.data", "keras_gst.data.annotations",
    "keras_gst.export", "keras_gst.training", "keras_gst.evaluation", "keras_gst.analysis", "keras_gst.weights",
    "keras_gst.errors", "keras_gst.atomic", "keras_gst.locks", "keras_gst.checks", "keras_gst.quiet",
)
COVERED = ("keras_gst",)
# examples that build a GST model or convert or save a TensorFlow graph (seconds each on 2 cores)
MODEL = re.compile(r"\bGSTResNet\d*\(|\bGSTBackbone\(|\bTFLiteConverter\b|\btf\.saved_model\.save\(|convert_\w*tflite\(|\bsubprocess\b|\bfit\(|\bfine_tune\(")


def covered(module_name):
    return any(module_name == c or module_name.startswith(c + ".") for c in COVERED)


def public_api():
    """{qualified name: class or function} of the public names that `COVERED` modules define."""
    found = {}
    for package in PACKAGES:
        if not any(covered(package) or c.startswith(package + ".") for c in COVERED):
            continue
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]:
            obj = getattr(module, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and covered(getattr(obj, "__module__", "")):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return dict(sorted(found.items()))


def docstring_lines(obj):
    """(path of the source file, 1-based line of the docstring's first line) of a class, function or module."""
    lines, start = inspect.getsourcelines(obj)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree if inspect.ismodule(obj) else tree.body[0]
    doc = node.body[0]
    return inspect.getsourcefile(obj), max(start, 1) + doc.lineno - 1


def example_blocks(obj):
    """The ```python blocks of `obj`'s docstring as `docs_runner.Block`s (`doc`: the source file; the
    docstring's text starts on the line of its opening quotes)."""
    doc = own_doc(obj)
    if not doc:
        return []
    path, first = docstring_lines(obj)
    lines, blocks, i = doc.splitlines(), [], 0
    while i < len(lines):
        match = docs_runner.FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [line[len(indent):] for line in lines[i + 1:end]]
        blocks.append(docs_runner.Block(path, first + i + 1, lang.lower(), "\n".join(body) + "\n"))
        i = end + 1
    return [block for block in blocks if block.kind == "python"]


def own_doc(obj):
    """`obj`'s own docstring, cleaned (`inspect.getdoc` would give a class its base class's)."""
    return inspect.cleandoc(obj.__doc__) if isinstance(obj.__doc__, str) else ""


def has_example(obj):
    return bool(re.search(r"^Example:\s*$", own_doc(obj), re.M)) and bool(example_blocks(obj))


API = public_api()
MODULES = sorted({obj.__module__ for obj in API.values()} | {p for p in PACKAGES if covered(p)})
CASES = [(name, i, block) for name, obj in API.items() for i, block in enumerate(example_blocks(obj))]
CASES += [(module, i, block) for module in MODULES
          for i, block in enumerate(example_blocks(importlib.import_module(module)))]


def expected_output(source):
    """The comments of the ``print(...)`` lines of `source`, in order."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [token.string[1:].strip() for token in tokens
            if token.type == tokenize.COMMENT and token.line.lstrip().startswith("print(")]


def missing_output(source, output):
    """The first line `source`'s print comments expect that `output` lacks (in order), else None."""
    printed = [line.strip() for line in output.splitlines()]
    position = 0
    for expected in expected_output(source):
        if expected not in printed[position:]:
            return expected
        position += printed[position:].index(expected) + 1
    return None


@contextlib.contextmanager
def restored_process_state():
    """Environment variables and logger levels as they were (examples may set them, as users' scripts do)."""
    environ = dict(os.environ)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)] + [logging.root]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@pytest.mark.parametrize("name, index, block", [
    pytest.param(*case, marks=[pytest.mark.large, pytest.mark.model_example] if MODEL.search(case[2].text) else [])
    for case in CASES], ids=[f"{name}-{index}" for name, index, _ in CASES])
def test_example_runs_and_prints_what_it_says(name, index, block, tmp_path, capsys):
    with restored_process_state():
        docs_runner.run_python(block, {"__name__": "__main__"}, tmp_path)
    output = capsys.readouterr().out
    missing = missing_output(block.text, output)
    assert missing is None, f"{block.doc}:{block.line}: the example should print {missing!r}; it printed:\n{output}"


@functools.cache
def annotation_namespace(module):
    """`module`'s globals plus the names it imports under ``if TYPE_CHECKING:``."""
    namespace = dict(vars(module))
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            exec(compile(ast.Module(node.body, type_ignores=[]), module.__file__, "exec"), namespace)
    return namespace


def annotated_function(obj):
    """The function whose signature documents `obj` (a class: its own constructor; None for one inherited
    from outside keras_gst, e.g. an exception's)."""
    function = obj.__init__ if inspect.isclass(obj) else obj
    return function if getattr(function, "__module__", "").startswith("keras_gst") else None


def missing_hints(obj):
    """The parameters of `obj`'s signature without a type hint, plus "return" for a function without one."""
    function = annotated_function(obj)
    if function is None:
        return []
    signature = inspect.signature(function)
    missing = [p.name for p in signature.parameters.values() if p.name != "self"
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.annotation is inspect.Parameter.empty]
    if inspect.isfunction(obj) and signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("name", list(API))
def test_public_name_has_an_example_and_type_hints(name):
    obj = API[name]
    assert has_example(obj), f"{name}: the docstring needs an 'Example:' line followed by a ```python block"
    assert not missing_hints(obj), f"{name}: no type hint for {missing_hints(obj)}"
    function = annotated_function(obj)
    if function is not None:  # every annotation names real types (a typo or a missing import fails here)
        module = importlib.import_module(inspect.unwrap(function).__module__)
        typing.get_type_hints(function, globalns=annotation_namespace(module))


def test_the_checks_find_what_is_missing():
    """The checks above fail on a name without hints or an example (they are not vacuous)."""
    def bare(path, *args, n=1, **kwargs):
        """Does nothing."""

    bare.__module__ = "keras_gst.example"
    assert not has_example(bare)
    assert missing_hints(bare) == ["path", "n", "return"]
    assert has_example(API["keras_gst.atomic.write_text"]) and not missing_hints(API["keras_gst.atomic.write_text"])
    source = "x = 1  # not a print\nprint(x)  # 1\nprint(2)\nprint(x + 2)  # 3\n"
    assert expected_output(source) == ["1", "3"]
    assert missing_output(source, "1\n2\n3\n") is None
    assert missing_output(source, "1\n2\n4\n") == "3"
    assert missing_output(source, "3\n1\n") == "3"  # in order
    assert len(API) >= 60 and len(CASES) >= len(API)
