"""The model family on JAX and torch with TensorFlow not installed (tests/no_tensorflow_check.py), in the
interpreter that KERAS_GST_NOTF_PYTHON names (a virtualenv with Keras, keras-hub, JAX and torch and no
TensorFlow; .ci/run makes one). Skipped when the variable is unset."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = os.environ.get("KERAS_GST_NOTF_PYTHON")


@pytest.mark.large
@pytest.mark.skipif(not PYTHON, reason="KERAS_GST_NOTF_PYTHON (an interpreter without TensorFlow) is not set")
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_model_family_without_tensorflow(backend, tmp_path):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO))
    done = subprocess.run([PYTHON, str(REPO / "tests" / "no_tensorflow_check.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == f"OK {backend}"
