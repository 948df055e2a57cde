"""How the tests run `keras-gst` and Python (a module with a unique name: every test folder has a conftest).

`run_cli` calls the CLI in this process (no second TensorFlow import, ~5-10 s saved per call); `run_python` starts
a fresh interpreter, for what only a new process shows: import side effects, native log lines, signals, locks
held by another process, the backend or device setup Keras and TensorFlow read once."""

import contextlib
import io
import os
import subprocess
import sys


def run_cli(*argv):
    """`keras-gst argv` in this process: (exit code, stdout, stderr)."""
    from keras_gst.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def run_python(*args, env=None, timeout=300, **kwargs):
    """`python args` in a fresh interpreter with os.environ updated by `env`: its CompletedProcess (text)."""
    return subprocess.run([sys.executable, *map(str, args)], env=dict(os.environ, **(env or {})), timeout=timeout,
                          capture_output=True, text=True, **kwargs)
