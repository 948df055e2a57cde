"""keras_gst turns TensorFlow's oneDNN CPU kernels on when imported first, and leaves a user's choice alone.

TensorFlow reports the setting itself (`IsMklEnabled`); each case runs in a fresh interpreter because the
variable is read once, when TensorFlow loads."""

import os
import subprocess
import sys

import pytest

CHECK = "from tensorflow.python.util import _pywrap_util_port as port; print('oneDNN', port.IsMklEnabled())"


@pytest.mark.parametrize(
    "setting, first, expected",
    [
        (None, "import keras_gst", True),  # the package's default
        ("0", "import keras_gst", False),  # the user's choice wins
        ("1", "import tensorflow", True),
        ("0", "import tensorflow", False),
    ],
)
def test_onednn_setting(setting, first, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    out = subprocess.run([sys.executable, "-c", f"{first}; import tensorflow; {CHECK}"], env=env, text=True,
                         capture_output=True, timeout=300, check=True).stdout
    assert f"oneDNN {expected}" in out
