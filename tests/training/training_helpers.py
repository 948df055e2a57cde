"""Helpers shared by the training tests (a module with a unique name: every test folder has a conftest)."""

import os
import socket
import subprocess
import sys

PYTHON = sys.executable


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_python(code, env=None, timeout=300, **kwargs):
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow", **(env or {}))
    return subprocess.run([PYTHON, "-c", code], env=full_env, timeout=timeout, capture_output=True, text=True, **kwargs)
