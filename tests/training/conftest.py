import os
import socket
import subprocess
import sys

import pytest

PYTHON = sys.executable


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """A tiny synthetic temporal dataset (2 classes, real mp4 files + list files)."""
    from keras_gst.data import write_synthetic_dataset

    root = tmp_path_factory.mktemp("synthetic")
    train, val, names = write_synthetic_dataset(root, num_videos_per_class=4, frames=8, size=40, seed=0, num_classes=2)
    return {"train": train, "val": val, "classes": os.path.join(root, "classes.txt"), "names": names}


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
