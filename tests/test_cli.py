"""The `keras-gst` entry point: --help without TensorFlow, only our text on stdout/stderr, runtime logs
hidden unless --verbose, shared flag spellings."""

import json
import os

import pytest

from cli_helpers import run_python
from keras_gst.cli import COMMANDS, NATIVE_LOG_LINE, build_parser

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)
HEAVY = ("tensorflow", "keras", "cv2", "av", "torch", "keras_hub", "matplotlib")


def _python(code, *args):
    return run_python("-c", code, *args, env={"COLUMNS": "100"})


HELP_PROBE = """
import json, runpy, sys
sys.argv = ["keras-gst"] + sys.argv[1:]
try:
    runpy.run_module("keras_gst.cli", run_name="__main__", alter_sys=True)
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in %r)
sys.stderr.write(json.dumps({"code": code, "heavy": heavy}))
""" % (HEAVY,)


def test_every_command_is_listed():
    assert len(SUBCOMMANDS) == len(COMMANDS) and "bench" in SUBCOMMANDS and "predict" in SUBCOMMANDS


@pytest.mark.parametrize("command", [None] + SUBCOMMANDS)
def test_help_imports_no_tensorflow_and_prints_only_its_own_text(command):
    argv = ([command] if command else []) + ["--help"]
    done = _python(HELP_PROBE, *argv)
    probe = json.loads(done.stderr)  # stderr holds the probe's line and nothing else
    assert probe == {"code": 0, "heavy": []}
    parser = build_parser()
    if command:
        parser = parser._subparsers._group_actions[0].choices[command]
    os.environ["COLUMNS"] = "100"
    try:
        expected = parser.format_help()
    finally:
        del os.environ["COLUMNS"]
    assert done.stdout == expected
    assert "--verbose" in done.stdout


def test_bad_option_is_an_argparse_error_without_tensorflow():
    done = _python(HELP_PROBE, "predict", "video.mp4")
    probe = json.loads(done.stderr.splitlines()[-1])
    assert probe == {"code": 2, "heavy": []}
    assert "the following arguments are required: --model" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "line, native",
    [
        (b"I0000 00:00:1796216093.259119    6692 port.cc:153] oneDNN custom operations are on.", True),
        (b"E0000 00:00:1796216186.657673    8016 cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
        (b"W0000 00:00:1796216186.657673    8016 remapper.cc:1] remapper failed: INVALID_ARGUMENT", True),
        (b"I1114 09:32:22.280168 13509 tpu_hal.cc:448] Registered plugin", True),
        (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
        (b"WARNING:root:apitools not found, and bigquery client libraries are not available despite the import "
         b"not raising an ImportError.", True),  # Beam's DirectRunner workers (keras-gst shard)
        (b"INFO:__main__:Logging handler created.", True),
        (b"WARNING:root:Make sure that locally built Python SDK docker image has Python 3.11 interpreter.", False),
        (b"F0000 00:00:1796216186.657673    8016 op.cc:1] Check failed: fatal", False),
        (b"error: cannot read video.mp4: video.mp4 does not exist", False),
        (b"[ WARN:0@1.2] global cap.cpp:1 open VIDEOIO(FFMPEG): raised OpenCV exception", False),
    ],
)
def test_native_log_pattern(line, native):
    assert bool(NATIVE_LOG_LINE.match(line)) is native


FILTER_PROBE = """
import os, sys
from keras_gst.cli import quiet_runtime_logs
log_filter = quiet_runtime_logs()
os.write(2, b"I0000 00:00:1796216093.259119    6692 port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"native text kept\\n")
os.write(2, b"E0000 00:00:1796216186.657673    8016 cuda_platform.cc:52] failed call to cuInit\\npartial ")
os.write(2, b"line kept\\n")
print("python text kept", file=sys.stderr)
log_filter.close()
print("after close", file=sys.stderr)
"""


def test_filter_drops_native_log_lines_and_keeps_everything_else():
    done = _python(FILTER_PROBE)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stderr.splitlines()) == ["after close", "native text kept", "partial line kept", "python text kept"]


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory):
    import keras

    from keras_gst import GSTResNet18

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("cli") / "tiny.keras"
    GSTResNet18(3, weights=None, num_frames=4, input_shape=(32, 32, 3)).save(path)
    return str(path)


@pytest.mark.large
def test_predict_prints_no_runtime_logs_unless_verbose(tiny_keras, real_data):
    video = str(real_data / "videos" / "demo.mp4")
    run = "import sys; from keras_gst.cli import main; sys.exit(main(sys.argv[1:]))"
    quiet = _python(run, "predict", video, "--model", tiny_keras, "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert len(json.loads(quiet.stdout)["topk"]) == 3
    loud = _python(run, "--verbose", "predict", video, "--model", tiny_keras, "--json")
    assert loud.returncode == 0 and loud.stdout == quiet.stdout
    assert any(NATIVE_LOG_LINE.match(line.encode()) for line in loud.stderr.splitlines())  # what the filter hid
    after = _python(run, "predict", video, "--model", tiny_keras, "--json", "--verbose")
    assert after.stdout == quiet.stdout
    assert any(NATIVE_LOG_LINE.match(line.encode()) for line in after.stderr.splitlines())
    missing = _python(run, "predict", "missing.mp4", "--model", tiny_keras)
    assert missing.returncode == 2 and missing.stderr == (
        "keras-gst predict: error: argument VIDEO: missing.mp4: does not exist (expected a video file or frame folder)\n")


def test_shared_flag_spellings():
    """--labels and --topk wherever a command prints classes; the old explain spellings still parse."""
    parser = build_parser()
    for command in ("predict", "explain"):
        args = parser.parse_args([command, "v.mp4", "--model", "m.keras", "--labels", "l.txt", "--topk", "3"])
        assert (args.labels, args.topk) == ("l.txt", 3)
    old = parser.parse_args(["explain", "v.mp4", "--model", "m.keras", "--class-file", "l.txt", "--top-k", "2"])
    assert (old.labels, old.topk) == ("l.txt", 2)
    assert "--top-k" not in parser._subparsers._group_actions[0].choices["explain"].format_help()


def test_plain_import_is_light_and_keras_loads_saved_models_after_it(tiny_keras):
    """`import keras_gst` loads no TensorFlow (so `keras-gst --help` is instant); `keras_gst.register()` then
    registers GSTVideoClassifier & co. with Keras, so `keras.saving.load_model` finds them."""
    code = (
        "import sys\n"
        "import keras_gst\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, sorted(sys.modules)\n"
        "import keras\n"
        "keras_gst.register()\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(type(model).__module__, type(model).__name__, model.num_classes)\n"
    )
    done = _python(code, tiny_keras)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["keras_gst.models.gst_video_classifier", "GSTVideoClassifier", "3"]
