"""The export workflow (`keras_gst.export.export_model`) and its callers: the result object, refusal before
any work, the skip policy for unreadable inputs (the same for `keras-gst export` and for `keras-gst train`'s
export step), atomic .tflite and SavedModel writes, the NaN / infinity refusal, and the README's API tour
on a model built without a static input shape."""

import contextlib
import io
import json
import os
import shutil

import numpy as np
import pytest

from cli_helpers import run_cli
from keras_gst.errors import ModelFileError, ParameterError

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5  # as tests/export/conftest.py


@pytest.fixture(scope="module")
def keras_file(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    tiny_model.save(path)
    return path


@pytest.fixture(scope="module")
def folder_with_an_empty_video(real_data, tmp_path_factory):
    """Two real videos and one empty .mp4 (0 bytes)."""
    folder = tmp_path_factory.mktemp("clips")
    for name in ("demo.mp4", "test.avi"):
        shutil.copy(real_data / "videos" / name, folder / name)
    (folder / "empty.mp4").write_bytes(b"")
    return folder


def _tree_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def test_export_model_returns_the_result(tiny_model, real_sources, tmp_path):
    from keras_gst.export import export_model

    out = tmp_path / "sm"
    result = export_model(tiny_model, out, "savedmodel", parity_data=[real_sources[1]], input_dtype="uint8")
    assert result.path == str(out) and result.kind == "savedmodel" and result.passed
    assert result.input_shape == (NUM_FRAMES, SIZE, SIZE) and result.input_dtype == "uint8"
    assert result.size_bytes == _tree_bytes(out) > 0
    assert result.report["clips"] == 5 and result.report["max_abs_diff"] <= 1e-5  # the 5 SSv2 frame folders
    assert result.skipped == [] and result.audit is None and result.rebuilt_from is None
    assert not [p for p in os.listdir(tmp_path) if p.startswith((".tmp-", ".old-"))]


# ---------------------------------------------------------------- refuse before work


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--format", "tflite", "--size", "8", "--no-parity"], "--size"),
        (["--format", "savedmodel", "--quantize", "int8", "--calibration", "."], "--quantize"),
        (["--format", "streaming", "--input-dtype", "uint8", "--no-parity"], "--input-dtype"),
        (["--format", "tflite", "--quantize", "int8", "--calibration", "/nonexistent/clips"], "--calibration"),
        (["--format", "tflite", "--parity-data", "/nonexistent/clips"], "--parity-data"),
    ],
)
def test_export_refuses_bad_flags_before_loading(extra, flag, keras_file, tmp_path, monkeypatch):
    import keras_gst.export.rewrite as rewrite

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the flags were checked")

    monkeypatch.setattr(rewrite, "load_keras_model", never)
    code, out, err = run_cli("export", "--model", keras_file, "--out", tmp_path / "m.tflite", *extra)
    assert code == 2 and err.startswith(f"keras-gst export: error: argument {flag}: "), err
    assert "Traceback" not in err and not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("name, bad", [("size", float("nan")), ("size", 16), ("size", 2048), ("threads", float("inf")),
                                       ("threads", 0), ("threads", 2.5), ("max_calibration_clips", float("nan")),
                                       ("max_calibration_clips", True), ("max_calibration_clips", "8")])
def test_export_integer_arguments_are_a_parameter_error_naming_them(name, bad, tmp_path):
    """Before: NaN or infinity raised a bare ValueError / OverflowError from int() (no argument named)."""
    from keras_gst.export import check_export_arguments

    model, out = tmp_path / "m.keras", tmp_path / "m.tflite"
    model.write_bytes(b"")  # only its existence is checked here
    with pytest.raises(ParameterError) as error:
        check_export_arguments(model, out, "tflite", parity=False, **{name: bad})
    assert error.value.param == name and repr(bad) in str(error.value)
    check_export_arguments(model, out, "tflite", parity=False, size=np.int64(64), threads=4.0, max_calibration_clips=8)


def test_export_refuses_bad_paths_before_loading(keras_file, tmp_path, monkeypatch):
    import keras_gst.export.rewrite as rewrite

    monkeypatch.setattr(rewrite, "load_keras_model", lambda *a, **k: pytest.fail("loaded"))
    blocker = tmp_path / "file"
    blocker.write_text("a file")
    (tmp_path / "folder.tflite").mkdir()
    cases = [
        (["--out", blocker / "sub" / "m.tflite", "--model", keras_file], "--out", "is a file, not a folder"),
        (["--out", tmp_path / "folder.tflite", "--model", keras_file], "--out", "is a folder"),
        (["--out", tmp_path / "m.tflite", "--model", tmp_path / "missing.keras"], "--model", "missing.keras"),
    ]
    for argv, flag, text in cases:
        code, _, err = run_cli("export", "--format", "tflite", "--no-parity", *argv)
        assert code == 2 and f"error: argument {flag}: " in err and text in err, err
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if not os.access(readonly, os.W_OK):  # root writes anywhere
            code, _, err = run_cli("export", "--format", "tflite", "--no-parity", "--model", keras_file,
                                "--out", readonly / "m.tflite")
            assert code == 2 and "argument --out: cannot write in " in err and "Permission denied" in err
    finally:
        readonly.chmod(0o700)


# ---------------------------------------------------------------- one skip policy


@pytest.mark.large
def test_export_cli_skips_an_unreadable_input_and_counts_it(keras_file, folder_with_an_empty_video, tmp_path):
    out = tmp_path / "m.tflite"
    code, stdout, err = run_cli("export", "--format", "tflite", "--model", keras_file, "--out", out,
                             "--parity-data", folder_with_an_empty_video, "--json")
    assert code == 0, err
    assert f"1 unreadable input(s) skipped, e.g. cannot read {folder_with_an_empty_video / 'empty.mp4'}" in stdout
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["clips"] == 2 and report["passed"]  # the two readable videos


@pytest.mark.large
def test_train_export_step_has_the_same_skip_policy(keras_file, folder_with_an_empty_video, tmp_path):
    from keras_gst.data import Annotations, VideoRecord
    from keras_gst.training.finetune import export_run

    model = tmp_path / "model.keras"
    shutil.copy(keras_file, model)
    videos = sorted(str(p) for p in folder_with_an_empty_video.iterdir())
    records = Annotations([VideoRecord(v, None, i % 2) for i, v in enumerate(videos)], ["a", "b"])
    result = export_run(str(model), "fp32", records, None, verbose=False)
    assert result.path == str(tmp_path / "model.tflite") and result.passed
    assert [path for path, _ in result.skipped] == [str(folder_with_an_empty_video / "empty.mp4")]
    assert result.report["clips"] == 2


def test_nothing_readable_is_an_error_naming_the_flag(keras_file, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "empty.mp4").write_bytes(b"")
    code, _, err = run_cli("export", "--format", "savedmodel", "--model", keras_file, "--out", tmp_path / "sm",
                        "--parity-data", tmp_path / "clips")
    assert code == 2 and "error: argument --parity-data: no readable clip" in err and "empty.mp4" in err


# ---------------------------------------------------------------- atomic writes


@pytest.mark.large
def test_failing_tflite_conversion_leaves_the_old_file(tiny_model, tmp_path, monkeypatch):
    from keras_gst.export import convert_tflite
    from keras_gst.export import tflite

    out = tmp_path / "m.tflite"
    out.write_bytes(b"previous good model")

    class Broken:
        def convert(self):
            raise RuntimeError("converter crashed")

    monkeypatch.setattr(tflite, "_converter", lambda *a, **k: Broken())
    with pytest.raises(RuntimeError, match="converter crashed"):
        convert_tflite(tiny_model, str(out))
    assert out.read_bytes() == b"previous good model"

    def torn_write(flatbuffer, path, audit=False):  # dies half-way through the write
        from keras_gst.atomic import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half a flatbuffer")
            raise OSError(28, "No space left on device")

    monkeypatch.undo()
    monkeypatch.setattr(tflite, "write_flatbuffer", torn_write)
    with pytest.raises(OSError, match="No space"):
        convert_tflite(tiny_model, str(out))
    assert out.read_bytes() == b"previous good model"
    assert sorted(os.listdir(tmp_path)) == ["m.tflite"]  # no temporary left behind


def test_savedmodel_is_replaced_only_when_the_new_one_is_complete(tiny_model, tmp_path, monkeypatch):
    from keras_gst.export import export_savedmodel, savedmodel

    out = tmp_path / "sm"
    out.mkdir()
    (out / "marker").write_text("the previous export")

    def failing(model, path, *args, **kwargs):  # dies half-way through writing the new SavedModel
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, "saved_model.pb"), "wb").write(b"torn")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(savedmodel, "write_archive", failing)
        with pytest.raises(OSError, match="No space left"):
            export_savedmodel(tiny_model, str(out))
    assert sorted(os.listdir(out)) == ["marker"] and sorted(os.listdir(tmp_path)) == ["sm"]
    export_savedmodel(tiny_model, str(out))
    assert "marker" not in os.listdir(out) and os.path.isfile(out / "saved_model.pb")
    assert sorted(os.listdir(tmp_path)) == ["sm"]


# ---------------------------------------------------------------- NaN / infinity


def _copy(model):
    from keras_gst.models import GSTVideoClassifier

    other = GSTVideoClassifier.from_config(model.get_config())
    other.set_weights(model.get_weights())
    return other


def test_non_finite_models_are_never_exported(tiny_model, tmp_path):
    from keras_gst.export import export_model

    nan = _copy(tiny_model)
    dense = nan.get_layer("frame_logits")
    dense.bias.assign(np.full(dense.bias.shape, np.nan, np.float32))
    with pytest.raises(ModelFileError, match="NaN or infinity") as info:
        export_model(nan, tmp_path / "nan.tflite", "tflite", parity=False)
    assert info.value.param == "model" and not (tmp_path / "nan.tflite").exists()
    huge = _copy(tiny_model)  # finite weights whose logits overflow float32
    dense = huge.get_layer("frame_logits")
    dense.kernel.assign(np.full(dense.kernel.shape, 3e38, np.float32))
    with pytest.raises(ModelFileError, match="infinite logits"):
        export_model(huge, tmp_path / "huge", "savedmodel", parity=False)
    assert not (tmp_path / "huge").exists()


def test_export_cli_refuses_a_nan_model_with_no_parity(tiny_model, tmp_path):
    nan = _copy(tiny_model)
    nan.set_weights([np.full_like(w, np.nan) if w.ndim > 1 else w for w in nan.get_weights()])
    path = tmp_path / "nan.keras"
    nan.save(path)
    code, _, err = run_cli("export", "--format", "tflite", "--model", path, "--out", tmp_path / "nan.tflite", "--no-parity")
    assert code == 2 and "argument --model: " in err and "NaN" in err and str(path) in err
    assert not (tmp_path / "nan.tflite").exists()


# ---------------------------------------------------------------- README API tour


@pytest.mark.large
def test_readme_tour_converts_a_dynamic_shape_model(real_sources, tmp_path):
    """README: `clips, _ = export.load_clips(...)`, then `export.convert_tflite(model, ..., quantize="int8",
    calibration_clips=clips)` on a model built without num_frames / input_shape: T and the frame size come
    from the clips."""
    import keras

    from keras_gst import GSTResNet18, export
    from keras_gst.export import TFLiteModel, check_int8

    keras.utils.set_random_seed(0)
    model = GSTResNet18(NUM_CLASSES, weights=None)  # any T, any frame size
    assert tuple(model.inputs[0].shape[1:4]) == (None, None, None)
    clips, _ = export.load_clips([real_sources[1]], num_frames=NUM_FRAMES, size=SIZE)
    path = str(tmp_path / "gst_int8.tflite")
    export.convert_tflite(model, path, quantize="int8", calibration_clips=clips)
    check_int8(path)
    assert TFLiteModel(path).input_shape == (1, NUM_FRAMES, SIZE, SIZE, 3)
    with pytest.raises(ParameterError, match="num_frames"):
        export.convert_tflite(model, str(tmp_path / "fp32.tflite"))  # no clips, no num_frames: named


@pytest.mark.parametrize("fmt, name", [("tflite", "m.tflite"), ("savedmodel", "sm")])
def test_a_full_disk_under_tensorflow_is_one_error_naming_the_folder(tiny_model, tmp_path, monkeypatch, fmt, name):
    """Before: `export --format tflite` under a file size limit (`ulimit -f`) or a full TMPDIR ended in
    TensorFlow's OutOfRangeError traceback ("File too large [Op:SaveV2]") from the intermediate SavedModel.
    TensorFlow's own error is raised here where SaveV2 raises it."""
    import errno

    import tensorflow as tf

    from keras_gst.cli import main
    from keras_gst.export import savedmodel, tflite

    def full(model, path, *args, **kwargs):
        os.makedirs(os.path.join(path, "variables"), exist_ok=True)
        raise tf.errors.OutOfRangeError(None, None, f"{path}/variables/part-0; File too large [Op:SaveV2]")

    monkeypatch.setattr(savedmodel, "write_archive", full)
    monkeypatch.setattr(tflite, "write_archive", full)
    model = tmp_path / "m.keras"
    tiny_model.save(model)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["export", "--format", fmt, "--model", str(model), "--out", str(tmp_path / name), "--no-parity"])
    err = err.getvalue()
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"[Errno {errno.EFBIG}] cannot write a SavedModel there (File too large)" in err, err
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # nothing torn or left over
