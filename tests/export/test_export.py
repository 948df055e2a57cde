"""Export paths end to end on a tiny GST-R18 (4x64x64, 5 classes): the conv2d rewrite, SavedModel
parity, TFLite none/fp16/dynamic/int8 parity thresholds, the int8 op audit, the export CLI."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_gst.export import (
    PARITY_THRESHOLDS,
    OpAuditError,
    ParityError,
    TFLiteModel,
    audit_tflite,
    check_int8,
    convert_tflite,
    export_savedmodel,
    float_compute_ops,
    normalize_clip,
    rewrite_for_export,
    savedmodel_parity,
    tflite_parity,
)
from keras_gst.export.audit import COMPUTE_OPS

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5  # as tests/export/conftest.py


def _classes_swapped_copy(model, a, b):
    """The same model with classifier outputs a and b exchanged (kernel columns and biases)."""
    from keras_gst.models import GSTVideoClassifier

    other = GSTVideoClassifier.from_config(model.get_config())
    other.set_weights(model.get_weights())
    dense = other.get_layer("frame_logits")
    order = np.arange(dense.kernel.shape[-1])
    order[[a, b]] = order[[b, a]]
    dense.kernel.assign(dense.kernel.numpy()[:, order])
    dense.bias.assign(dense.bias.numpy()[order])
    return other


def _perturbed_copy(model, scale=0.05):
    """The same architecture with the classifier kernel changed: a model the export must NOT match."""
    from keras_gst.models import GSTVideoClassifier

    other = GSTVideoClassifier.from_config(model.get_config())
    other.set_weights(model.get_weights())
    dense = other.get_layer("frame_logits")
    kernel = dense.kernel.numpy()
    dense.kernel.assign(kernel + scale * np.random.default_rng(1).normal(size=kernel.shape).astype("float32"))
    return other


# ---------------------------------------------------------------- rewrite


@pytest.mark.parametrize(
    "block,beta",
    [("gst", 0.5), ("gst", 1.0), pytest.param("c3d", 0.5, marks=pytest.mark.large),
     pytest.param("p3d", 0.5, marks=pytest.mark.large)],
)
def test_conv2d_rewrite_is_equivalent_in_keras(block, beta, real_clips):
    import keras

    from keras_gst.applications import build_classifier

    keras.utils.set_random_seed(1)
    model = build_classifier(18, NUM_CLASSES, block=block, beta=beta, dropout=0.0)  # dynamic T, H, W
    rewritten = rewrite_for_export(model, NUM_FRAMES, SIZE)
    assert rewritten.temporal_impl == "conv2d" and model.temporal_impl == "conv3d"
    assert rewritten.inputs[0].shape[1:] == (NUM_FRAMES, SIZE, SIZE, 3)
    x = normalize_clip(real_clips[::10])  # a video and a frame folder
    ref, out = np.asarray(model(x, training=False)), np.asarray(rewritten(x, training=False))
    # Logits are O(1e-2) with the std-0.001 head: compare the features too, where values are O(1).
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)
    from keras_gst.models import feature_model

    feats_ref = np.asarray(feature_model(model)(x))
    feats_out = np.asarray(feature_model(rewritten)(x))
    assert np.abs(feats_ref).max() > 0.1
    np.testing.assert_allclose(feats_out, feats_ref, atol=1e-5 * max(1.0, np.abs(feats_ref).max()), rtol=0)


def test_rewrite_rejects_other_models():
    import keras

    plain = keras.Sequential([keras.Input((4, 32, 32, 3)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="GSTVideoClassifier"):
        rewrite_for_export(plain)


# ---------------------------------------------------------------- SavedModel


def test_savedmodel_signature_and_parity(tiny_model, real_clips, savedmodel_dir):
    report = savedmodel_parity(tiny_model, savedmodel_dir, real_clips)
    assert report["passed"] and report["max_abs_diff"] <= 1e-5, report
    assert report["clips"] == len(real_clips) and report["top1_agreement"] == 1.0

    loaded = tf.saved_model.load(savedmodel_dir)
    fn = loaded.signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    assert spec.dtype == tf.float32
    assert spec.shape.as_list() == [None, NUM_FRAMES, SIZE, SIZE, 3]  # dynamic batch
    for batch in (1, 3):  # the same signature serves several batch sizes
        out = fn(**{name: tf.constant(normalize_clip(real_clips[:batch]))})
        assert set(out) == {"logits", "probabilities"}
        assert out["logits"].shape == (batch, NUM_CLASSES)
        np.testing.assert_allclose(out["probabilities"].numpy(), tf.nn.softmax(out["logits"]).numpy(), atol=1e-6)
        np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)


def test_savedmodel_parity_detects_a_different_model(tiny_model, real_clips, savedmodel_dir):
    with pytest.raises(ParityError, match="max abs logit diff") as info:
        savedmodel_parity(_perturbed_copy(tiny_model), savedmodel_dir, real_clips)
    assert info.value.report["max_abs_diff"] > 1e-3


# ---------------------------------------------------------------- TFLite


@pytest.mark.parametrize("mode", ["none", "fp16", "dynamic", "int8"])
def test_tflite_parity_within_mode_thresholds(tiny_model, real_clips, tflite_file, mode):
    path = tflite_file(mode)
    report = tflite_parity(tiny_model, path, real_clips, mode)
    max_rel, min_top1 = PARITY_THRESHOLDS[mode]
    assert report["passed"] and report["rel_diff"] <= max_rel and report["top1_agreement"] >= min_top1, report
    assert report["clips"] == 20
    tfl = TFLiteModel(path)
    assert tfl.input_shape == (1, NUM_FRAMES, SIZE, SIZE, 3) and tfl.input_dtype == "float32"
    out = tfl(normalize_clip(real_clips[:2]))
    assert out["logits"].shape == (2, NUM_CLASSES) and np.all(np.isfinite(out["logits"]))
    if mode == "none":
        assert report["rel_diff"] < 1e-4  # float32: only summation order differs
    else:
        assert report["max_abs_diff"] > 0  # quantized: not bit-identical, so the comparison is real
    if mode in ("dynamic", "int8"):
        assert os.path.getsize(path) < 0.35 * os.path.getsize(tflite_file("none"))
    if mode == "fp16":
        assert os.path.getsize(path) < 0.6 * os.path.getsize(tflite_file("none"))


def test_tflite_parity_refuses_beyond_threshold(tiny_model, real_clips, tflite_file):
    path = tflite_file("int8")
    with pytest.raises(ParityError, match="rel logit diff"):
        tflite_parity(tiny_model, path, real_clips, "int8", thresholds=(1e-4, 0.0))
    with pytest.raises(ParityError):  # a different Keras model fails the default int8 thresholds
        tflite_parity(_perturbed_copy(tiny_model), path, real_clips, "int8")
    # The top-1 criterion alone (no bound on the relative difference), against the model itself and against
    # a copy whose classifier swaps the int8 file's most frequent class with another one: the agreement is
    # recomputed with NumPy from both sides' logits, and `passed` must follow it.
    exported = TFLiteModel(path).logits_for_clips(real_clips).argmax(-1)
    frequent = int(np.bincount(exported).argmax())
    swapped = _classes_swapped_copy(tiny_model, frequent, (frequent + 1) % tiny_model.num_classes)
    for model in (tiny_model, swapped):
        reference = np.asarray(model(normalize_clip(real_clips), training=False)).argmax(-1)
        agreement = float(np.mean(reference == exported))
        report = tflite_parity(model, path, real_clips, "int8", thresholds=(float("inf"), agreement),
                               raise_on_failure=False)
        assert report["top1_agreement"] == pytest.approx(agreement) and report["passed"]
        if agreement < 1:
            higher = (float("inf"), agreement + 0.5 / len(real_clips))
            assert not tflite_parity(model, path, real_clips, "int8", thresholds=higher, raise_on_failure=False)["passed"]
    assert agreement <= 1 - np.mean(exported == frequent) + 1e-9  # the swap moved every clip of that class


def test_float_export_has_no_conv3d_after_rewrite(tflite_file):
    ops = audit_tflite(tflite_file("none"))
    names = [op.name for op in ops]
    assert "CONV_3D" not in names
    # R18: stem + 16 block 3x3 units (spatial 1 + temporal 3 Conv2Ds each) + 3 shortcut convs.
    assert names.count("CONV_2D") == 1 + 16 * 4 + 3
    assert names.count("FULLY_CONNECTED") == 1


def test_int8_every_compute_op_reads_int8(tflite_file):
    ops = check_int8(tflite_file("int8"))  # raises on a float compute op or a Flex op
    compute = [op for op in ops if op.name in COMPUTE_OPS]
    assert {op.name for op in compute} == {"CONV_2D", "FULLY_CONNECTED"}
    assert len(compute) == 1 + 16 * 4 + 3 + 1
    for op in compute:
        assert op.input_types[:2] == ("int8", "int8"), op
        assert op.output_types == ("int8",), op
    assert not any(op.custom for op in ops)


def test_int8_audit_fails_on_plain_conv3d_model(tiny_model, real_clips, tmp_path):
    """Without the rewrite the converter keeps CONV_3D in float (even with TFLITE_BUILTINS_INT8 only):
    the audit must see it, and convert_tflite must refuse and write nothing."""
    path = tmp_path / "conv3d_int8.tflite"
    with pytest.raises(OpAuditError, match="CONV_3D") as info:
        convert_tflite(tiny_model, str(path), "int8", calibration_clips=real_clips[:2], temporal_impl="conv3d")
    assert not path.exists()
    bad = info.value.offending
    assert {op.name for op in bad} == {"CONV_3D"} and all(op.input_types[0] == "float32" for op in bad)
    assert len(bad) == 16  # every temporal conv of R18's 16 GST units
    # the rest of that model is int8: the audit singles out exactly the temporal convs
    assert {op.name for op in info.value.ops if op.name in COMPUTE_OPS and op not in bad} == {"CONV_2D", "FULLY_CONNECTED"}
    assert float_compute_ops(info.value.ops) == bad


def test_int8_needs_calibration_clips(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        convert_tflite(tiny_model, str(tmp_path / "m.tflite"), "int8")
    with pytest.raises(ValueError, match="quantize"):
        convert_tflite(tiny_model, str(tmp_path / "m.tflite"), "int4")


# ---------------------------------------------------------------- CLI and scripts


@pytest.fixture(scope="module")
def tiny_keras_file(tiny_model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("keras") / "tiny.keras")
    tiny_model.save(path)
    return path


def test_export_savedmodel_script_uint8(tiny_keras_file, real_sources, tmp_path, capsys):
    """export/export_savedmodel.py with uint8 input: normalisation inside the signature."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "export_savedmodel", os.path.join(os.path.dirname(__file__), "..", "..", "export", "export_savedmodel.py")
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = str(tmp_path / "sm")
    code = script.main(["--model", tiny_keras_file, "--out", out, "--input-dtype", "uint8", "--json",
                        "--parity-data", *real_sources])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["passed"] and report["max_abs_diff"] <= 1e-5 and report["input_dtype"] == "uint8"
    assert report["clips"] == 10
    fn = tf.saved_model.load(out).signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, NUM_FRAMES, SIZE, SIZE, 3]


@pytest.mark.large
def test_export_cli_tflite_refuses_beyond_threshold(tiny_keras_file, real_sources, tmp_path, capsys):
    """`keras-gst export` exits non-zero when the parity report fails (int8 is far from 1e-4 relative)."""
    from keras_gst.cli import main

    out = str(tmp_path / "m.tflite")
    code = main(["export", "--format", "tflite", "--model", tiny_keras_file, "--out", out, "--quantize", "int8",
                 "--calibration", *real_sources, "--calibration-clips", "8", "--max-rel-diff", "1e-4", "--json"])
    captured = capsys.readouterr()
    assert code == 2, captured
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert not report["passed"] and report["rel_diff"] > 1e-4 and report["quantize"] == "int8"
    assert "fails the parity check" in captured.err
    check_int8(out)  # the file itself is the audited all-int8 model


def test_export_cli_unreadable_calibration_data(tiny_keras_file, tmp_path, capsys):
    from keras_gst.cli import main

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 not a video" * 64)
    code = main(["export", "--format", "tflite", "--model", tiny_keras_file, "--out", str(tmp_path / "m.tflite"),
                 "--quantize", "int8", "--calibration", str(bad)])
    assert code == 2
    assert "broken.mp4" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "m.tflite")


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--format", "tflite", "--quantize", "int8"], "--calibration"),
        (["--format", "tflite", "--quantize", "int8", "--no-parity"], "--calibration"),
        (["--format", "tflite", "--quantize", "int8", "--parity-data", "clips/"], "--calibration"),
        (["--format", "tflite"], "--parity-data"),
        (["--format", "savedmodel"], "--parity-data"),
        (["--format", "streaming"], "--parity-data"),
    ],
)
def test_export_cli_without_real_clips_is_an_error_naming_the_flag(argv, flag, tmp_path, capsys):
    """No default data outside the repository: the run stops before loading anything, exit 2."""
    from keras_gst.cli import main

    out = tmp_path / "out"
    code = main(["export", "--model", str(tmp_path / "never_read.keras"), "--out", str(out), *argv])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith(f"keras-gst export: error: argument {flag}: "), captured.err
    assert not out.exists()


@pytest.mark.large
def test_tflite_int8_with_uint8_input(tiny_model, real_clips, tmp_path):
    """uint8 pixels in, normalisation inside the graph, still all-int8 compute and within int8 parity."""
    path = str(tmp_path / "u8.tflite")
    convert_tflite(tiny_model, path, "int8", calibration_clips=real_clips, input_dtype="uint8")
    check_int8(path)
    tfl = TFLiteModel(path)
    assert tfl.input_dtype == "uint8"
    report = tflite_parity(tiny_model, path, real_clips, "int8")
    assert report["passed"] and report["max_abs_diff"] > 0, report


def test_export_cli_rebuilds_for_another_clip_length(tiny_keras_file, real_sources, tmp_path, capsys):
    """The .keras file fixes T=4; exporting at T=2 rebuilds the model (same weights) and still matches."""
    from keras_gst.cli import main

    out = str(tmp_path / "sm2")
    code = main(["export", "--format", "savedmodel", "--model", tiny_keras_file, "--out", out, "--frames", "2",
                 "--parity-data", real_sources[1], "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "rebuilt" in captured.out
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["passed"] and report["clips"] == 5
    spec = tf.saved_model.load(out).signatures["serving_default"].structured_input_signature[1]["frames"]
    assert spec.shape.as_list() == [None, 2, SIZE, SIZE, 3]
