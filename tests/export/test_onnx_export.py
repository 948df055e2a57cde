"""`keras-gst export --format onnx`: Keras' ONNX export with the parity report of the other formats, checked
here with ONNX Runtime against the Keras model; refusals before any work."""

import contextlib
import importlib.util
import io
import json

import numpy as np
import pytest

from keras_gst.errors import ParameterError

NUM_FRAMES, SIZE = 4, 64  # as tests/export/conftest.py
needs_onnx = pytest.mark.skipif(
    not all(importlib.util.find_spec(p) for p in ("tf2onnx", "onnxruntime")),
    reason='tf2onnx / onnxruntime not installed (pip install "keras-gst[onnx]")')


def _cli(*argv):
    from keras_gst.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@needs_onnx
@pytest.mark.large
def test_onnx_export_runs_in_onnx_runtime_like_the_keras_model(tiny_model, real_sources, tmp_path):
    import onnxruntime as ort

    from keras_gst.export import load_clips, normalize_clip

    model_file, out = tmp_path / "tiny.keras", tmp_path / "tiny.onnx"
    tiny_model.save(model_file)
    code, printed, err = _cli("export", "--format", "onnx", "--model", model_file, "--out", out,
                              "--parity-data", real_sources[1], "--json")
    assert code == 0, err
    report = json.loads(printed.strip().splitlines()[-1])
    assert report["format"] == "onnx" and report["clips"] == 5 and report["passed"]  # the 5 SSv2 frame folders
    assert f"wrote ONNX {out} (frames 4x64x64, input float32, batch 1" in printed
    # independent of the report's code: ONNX Runtime on the file vs the Keras model, clip by clip
    clips, _ = load_clips([real_sources[0]], NUM_FRAMES, SIZE)
    x = normalize_clip(clips)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (spec,) = session.get_inputs()
    assert spec.shape == [1, NUM_FRAMES, SIZE, SIZE, 3] and spec.type == "tensor(float)"
    onnx_logits = np.concatenate([session.run(None, {spec.name: clip[None]})[0] for clip in x])
    keras_logits = np.asarray(tiny_model(x, training=False))
    np.testing.assert_allclose(onnx_logits, keras_logits, atol=1e-4 * np.abs(keras_logits).max())
    assert (onnx_logits.argmax(-1) == keras_logits.argmax(-1)).all()


@pytest.mark.parametrize("extra, flag", [(["--input-dtype", "uint8"], "--input-dtype"),
                                         (["--quantize", "int8", "--calibration", "."], "--quantize")])
def test_onnx_refuses_what_it_cannot_export_before_loading(extra, flag, tmp_path):
    model_file = tmp_path / "missing.keras"  # never read: the flags are refused first
    code, _, err = _cli("export", "--format", "onnx", "--model", model_file, "--out", tmp_path / "m.onnx",
                        "--no-parity", *extra)
    assert code == 2 and f"argument {flag}" in err


def test_onnx_without_its_packages_says_what_to_install(monkeypatch, tmp_path):
    from keras_gst.export import export_model
    from keras_gst.export import onnx_export

    monkeypatch.setattr(onnx_export.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ParameterError, match=r'needs tf2onnx and onnxruntime: pip install "keras-gst\[onnx\]"') as e:
        export_model(tmp_path / "missing.keras", tmp_path / "m.onnx", "onnx", parity=False)
    assert e.value.param == "format"
