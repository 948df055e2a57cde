"""Run the code blocks of README.md and docs/*.md as written (tests/test_docs.py, tests/test_docs_reference.py).

Blocks: a fence ```bash / ```sh / ```shell is run by bash, ```python by `exec`, every other fence (```text,
output listings, synopses) is not run. A shell command (with its continuation lines) or a top-level Python
statement whose text holds ``# needs the network`` is skipped, and so is a whole block whose first line is
such a comment: nothing else is. Python blocks of one page share one namespace (snippets continue each other).

Speed: bash runs a block as written (loops, ``&&``, variables), but ``keras-gst ...``, ``python X.py ...`` and
``python -m M ...`` are shell functions that hand their arguments back to this process, which runs them
in-process (`keras_gst.cli.main(argv)`, `runpy`): TensorFlow is imported once for all docs.

Every page runs in its own working directory laid out as the repository root (its top-level folders are
symlinked) plus the tiny data of `make_workspace`, under the names the docs use.
"""

import ast
import contextlib
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
NETWORK = "# needs the network"
SHELL_LANGS = {"bash", "sh", "shell"}
PYTHON_LANGS = {"python", "py"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)")


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository root
    line: int  # 1-based line of the block's first code line
    lang: str  # the fence's info string ("" for a bare fence)
    text: str

    @property
    def kind(self):
        return "shell" if self.lang in SHELL_LANGS else "python" if self.lang in PYTHON_LANGS else None

    @property
    def id(self):
        return f"{self.doc}:{self.line}-{self.kind or self.lang or 'bare'}"


def read_blocks(path):
    """Every fenced block of a Markdown file, in order."""
    blocks, lines = [], Path(path).read_text().splitlines()
    doc = str(Path(path).relative_to(REPO_ROOT))
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence[0] * len(fence)):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1:end]]
        blocks.append(Block(doc, i + 2, lang.lower(), "\n".join(body) + "\n"))
        i = end + 1
    return blocks


def all_blocks():
    return [block for path in DOCS for block in read_blocks(path)]


# The pages are run by two test files, so that `-n 2 --dist loadfile` (setup.cfg) gives each worker about half
# (some 4 minutes each on 2 cores) instead of one file of 9 minutes on one worker: tests/test_docs.py runs these,
# tests/test_docs_reference.py every other page. A page's blocks stay together, in order.
GUIDE_PAGES = ("README.md", "docs/training.md", "docs/finetune.md")


def runnable_blocks(guides):
    """The blocks that run (```bash and ```python) of GUIDE_PAGES (guides=True) or of every other page."""
    return [block for block in all_blocks() if block.kind and (block.doc in GUIDE_PAGES) == guides]


# --- what runs -------------------------------------------------------------------------------------------

def _first_line_skips(text):
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.startswith("#") and NETWORK in first


def shell_script(block):
    """The block's text without the commands marked as needing the network; None when none is left."""
    if _first_line_skips(block.text):
        return None
    kept, command = [], []
    for line in block.text.splitlines():
        command.append(line)
        if line.rstrip().endswith("\\"):
            continue
        if not any(NETWORK in part for part in command):
            kept.extend(command)
        command = []
    kept.extend(c for c in command if NETWORK not in c)
    script = "\n".join(kept)
    return script if any(_is_command(line) for line in kept) else None


def _is_command(line):
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def python_source(block):
    """The block's code with the top-level statements marked as needing the network blanked out; padded to
    the block's line in the doc, so errors and tracebacks name the doc's lines."""
    if _first_line_skips(block.text):
        return None
    padded = "\n" * (block.line - 1) + block.text
    lines = padded.splitlines()
    skipped = [node for node in ast.parse(padded, filename=block.doc).body
               if any(NETWORK in lines[n] for n in range(node.lineno - 1, node.end_lineno))]
    for node in skipped:
        lines[node.lineno - 1:node.end_lineno] = [""] * (node.end_lineno - node.lineno + 1)
    return "\n".join(lines) if any(_is_command(line) for line in lines) else None


# --- running ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _in_directory(path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_block(block, page):
    """Run a block (``pytest.skip`` when every command in it is marked as needing the network) in its page's
    `(working directory, namespace)`."""
    import pytest

    directory, namespace = page(block.doc)
    ran = run_python(block, namespace, directory) if block.kind == "python" else run_shell(block, directory,
                                                                                             directory / ".ipc")
    if not ran:
        pytest.skip(f"{block.id}: every command is marked {NETWORK!r}")


def run_python(block, namespace, cwd):
    source = python_source(block)
    if source is None:
        return False
    with _in_directory(cwd):
        exec(compile(source, str(REPO_ROOT / block.doc), "exec"), namespace)
    return True


BASH_PRELUDE = r"""
set -e
__call() {
    local id="$BASHPID.$RANDOM.$SECONDS"
    printf '%s\0' "$PWD" "$@" > "$__IPC/$id.tmp" && mv "$__IPC/$id.tmp" "$__IPC/$id.req"
    while [ ! -e "$__IPC/$id.rep" ]; do sleep 0.05; done
    local code; code="$(cat "$__IPC/$id.rep")"; rm -f "$__IPC/$id.rep"
    return "$code"
}
keras-gst() { __call keras-gst "$@"; }
python() {
    case "$1" in
        *.py|-m) __call python "$@" ;;
        *) command python "$@" ;;
    esac
}
python3() { python "$@"; }
"""


def run_shell(block, cwd, ipc):
    """Run the block with bash; `keras-gst` and `python X.py` / `python -m M` run in this process."""
    script = shell_script(block)
    if script is None:
        return False
    env = dict(os.environ, __IPC=str(ipc), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(["bash", "-c", BASH_PRELUDE + script], cwd=cwd, env=env)
    while True:
        requests = sorted(ipc.glob("*.req"))
        for request in requests:
            directory, *argv = request.read_bytes().split(b"\0")[:-1]
            request.unlink()
            code = run_in_process(os.fsdecode(directory), [os.fsdecode(a) for a in argv])
            reply = request.with_suffix(".tmp-rep")
            reply.write_text(str(code))
            reply.rename(request.with_suffix(".rep"))
        if not requests and proc.poll() is not None:
            break
        if not requests:
            time.sleep(0.05)
    if proc.returncode:
        raise AssertionError(f"{block.id}: the block exited with status {proc.returncode} (output above)")
    return True


def run_in_process(cwd, argv):
    """`keras-gst ARGS`, `python SCRIPT ARGS` or `python -m MODULE ARGS`, run here; returns the exit code."""
    program, *args = argv
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.stdout.flush()
    try:
        with _in_directory(cwd):
            if program == "keras-gst":
                from keras_gst import cli

                sys.argv = ["keras-gst", *args]
                return cli.main(args)
            if args[0] == "-m":
                sys.argv = [args[1], *args[2:]]
                runpy.run_module(args[1], run_name="__main__", alter_sys=True)
            else:
                script = os.path.abspath(args[0])
                sys.argv = [args[0], *args[1:]]
                sys.path.insert(0, os.path.dirname(script))
                runpy.run_path(script, run_name="__main__")
            return 0
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001  reported like an uncaught error of the command
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        sys.stdout.flush()
        sys.stderr.flush()


def page_directory(base, root):
    """A working directory for one page: the repository's top level (symlinks) plus the tiny data (hard links:
    commands never rewrite their inputs in place)."""
    shutil.copytree(base, root, copy_function=os.link, symlinks=True)
    for entry in REPO_ROOT.iterdir():
        target = root / entry.name
        if not entry.name.startswith(".") and not target.exists():
            target.symlink_to(entry)
    (root / ".ipc").mkdir()
    return root
