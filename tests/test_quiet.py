"""Quiet by default: the commands a user starts print no third-party line on stderr (TensorFlow / Abseil /
TFLite runtime logs, Keras or TensorFlow warnings, OpenCV notes), only our own; `--verbose` shows them.

Tiny data made here: a GST-R18 (4 frames, 32 px) saved as .keras, a synthetic video dataset written with
OpenCV. The CLI commands run in one subprocess (one TensorFlow import), the demo recipe in another (both
`large`: minutes on 2 cores).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_gst.quiet import NATIVE_LOG_LINE

ROOT = Path(__file__).resolve().parents[1]
# A line from anyone but us: Abseil / glog prefix, Python warnings and loggers, the TFLite runtime and
# converter, OpenCV / FFmpeg.
THIRD_PARTY = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\]|WARNING:|UserWarning|DeprecationWarning|INFO:|\[ WARN|"
    r"fully_quantize|absl::InitializeLog|oneDNN|cuInit|tf\.lite\.Interpreter|^\[\w+ @ 0x"
)


def third_party_lines(stderr):
    return [line for line in stderr.splitlines() if THIRD_PARTY.search(line)]


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "GLOG_minloglevel")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env=dict(env, KERAS_BACKEND="tensorflow"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny GST-R18 .keras, saved as `train` saves best.keras, and a 2-class synthetic video dataset."""
    import keras

    from keras_gst import GSTResNet18
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.training.callbacks import save_model

    root = tmp_path_factory.mktemp("quiet")
    train, val, _ = write_synthetic_dataset(str(root / "data"), num_videos_per_class=1, frames=8, size=40,
                                            num_classes=2)
    keras.utils.set_random_seed(0)
    model = GSTResNet18(2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    save_model(model, str(root / "tiny.keras"), include_optimizer=False)  # as `train` writes best.keras
    video = sorted((root / "data" / "videos").glob("*.mp4"))[0]
    return root, str(video), val


@pytest.mark.large
def test_keras_files_load_without_optimizer_warnings(tmp_path):
    """`train` writes best.keras without optimizer (training.callbacks.save_model): it loads uncompiled,
    with no "Skipping variable loading for optimizer" warning; a file saved with its trained optimizer
    loads compiled, with that state."""
    import warnings

    import keras
    import numpy as np

    from keras_gst import GSTResNet18
    from keras_gst.training.callbacks import save_model

    keras.utils.set_random_seed(0)
    model = GSTResNet18(2, weights=None, num_frames=2, input_shape=(32, 32, 3))
    model.fit(np.zeros((2, 2, 32, 32, 3), "float32"), np.array([0, 1]), epochs=1, verbose=0)
    save_model(model, tmp_path / "best.keras", include_optimizer=False)
    save_model(model, tmp_path / "checkpoint.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        best = keras.saving.load_model(tmp_path / "best.keras")
        checkpoint = keras.saving.load_model(tmp_path / "checkpoint.keras")
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []
    assert not best.compiled and getattr(best, "optimizer", None) is None
    assert checkpoint.compiled and int(checkpoint.optimizer.iterations) == 1
    for saved, loaded in zip(model.optimizer.variables, checkpoint.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(saved))


CLI_SCRIPT = """
import sys
from keras_gst.cli import main
for argv in {commands!r}:
    print("RUN", argv[0], flush=True)
    assert main(argv) == 0, argv
"""


@pytest.mark.large  # two int8 TFLite conversions: minutes on 2 cores
def test_cli_commands_print_only_their_own_lines(workspace):
    root, video, val = workspace
    model, tflite, stream = str(root / "tiny.keras"), str(root / "tiny_int8.tflite"), str(root / "stream.tflite")
    commands = [
        ["predict", video, "--model", model, "--json"],
        ["eval", model, "--annotations", val, "--scale-size", "36", "--json"],
        ["export", "--format", "tflite", "--model", model, "--out", tflite, "--quantize", "int8",
         "--calibration", val, "--calibration-clips", "2", "--no-parity"],
        ["predict", video, "--model", tflite, "--json"],
        ["export", "--format", "streaming", "--model", model, "--out", stream, "--quantize", "int8",
         "--calibration", val, "--calibration-clips", "1", "--no-parity"],
        ["stream", video, "--model", stream, "--json"],
    ]
    done = _run(["-c", CLI_SCRIPT.format(commands=commands)], cwd=root)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("RUN")] == [f"RUN {c[0]}" for c in commands]
    assert third_party_lines(done.stderr) == [], done.stderr

    loud = _run(["-m", "keras_gst.cli", "--verbose", "predict", video, "--model", tflite, "--json"], cwd=root)
    assert loud.returncode == 0, loud.stderr
    assert any(NATIVE_LOG_LINE.match(line.encode()) for line in loud.stderr.splitlines()), loud.stderr


@pytest.mark.large
def test_demo_recipe_prints_only_its_own_lines(tmp_path):
    done = _run([str(ROOT / "recipes" / "train_synthetic.py"), "--output-dir", str(tmp_path), "--classes", "2",
                 "--videos-per-class", "1", "--frames", "4", "--epochs", "1", "--batch-size", "2", "--blocks", "gst",
                 "--steps-per-epoch", "1"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mean over the time-reversed pairs" in done.stdout
    assert third_party_lines(done.stderr) == [], done.stderr
