"""TFLite (LiteRT) export: float32, float16, dynamic-range and full-int8, with parity reports.

Conversion: the model is first rebuilt by `rewrite_for_export` with a static (1, T, H, W, 3) input and
`temporal_impl="conv2d"` (temporal 3x3x3 convolutions as sums of per-frame Conv2Ds, same weights), then
written as a SavedModel (`keras.export.ExportArchive`) and converted with
`tf.lite.TFLiteConverter.from_saved_model` (not `from_concrete_functions`, which gave NaN here).

- "none": float32.  "fp16": float16 weights, float compute.  "dynamic": int8 weights, activations
  quantized on the fly.  "int8": full integer, calibrated on a representative dataset of real clips,
  `TFLITE_BUILTINS_INT8` only, then audited: every CONV_2D/CONV_3D/FULLY_CONNECTED must read int8 and
  there must be no Flex op (see `keras_gst.export.audit`). Input and output stay float32 (or uint8
  input with `input_dtype="uint8"`), quantized inside the graph.

The file runs with `ai_edge_litert.interpreter.Interpreter` (`TFLiteModel`). `tflite_parity` compares it
with the Keras model on real clips: max abs logit diff relative to the largest Keras logit, and top-1
agreement, against per-mode thresholds (`PARITY_THRESHOLDS`); `ParityError` beyond them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from keras_gst.atomic import atomic_path
from keras_gst.errors import ParameterError
from keras_gst.export.audit import check_int8
from keras_gst.export.clips import model_input
from keras_gst.export.rewrite import rewrite_for_export, static_input_shape
from keras_gst.export.savedmodel import ParityError, compare_logits, keras_logits, savedmodel_write_errors, write_archive

if TYPE_CHECKING:
    import keras

    from keras_gst.models import GSTVideoClassifier

QUANTIZE_MODES = ("none", "fp16", "dynamic", "int8")

# mode -> (max |logit diff| / max |Keras logit|, min top-1 agreement) on real clips.
PARITY_THRESHOLDS = {
    "none": (1e-4, 1.0),
    "fp16": (2e-2, 0.9),
    "dynamic": (0.15, 0.7),
    "int8": (0.25, 0.6),
}


def representative_dataset(clips, input_dtype="float32"):
    """A TFLite representative dataset (a generator factory) over pixel clips (N, T, H, W, 3)."""

    def generate():
        for clip in clips:
            yield [model_input(clip[None], input_dtype)]

    return generate


def _check_mode(quantize, calibration_clips, shape):
    if quantize not in QUANTIZE_MODES:
        raise ParameterError("quantize", f"must be one of {QUANTIZE_MODES}, got {quantize!r}")
    if quantize == "int8":
        if calibration_clips is None or len(calibration_clips) == 0:
            raise ParameterError("calibration_clips", "int8 quantization calibrates on real clips (see load_clips)")
        if tuple(calibration_clips.shape[1:]) != shape + (3,):
            raise ParameterError("calibration_clips", f"clips have shape {calibration_clips.shape[1:]}, the model "
                                                      f"takes {shape + (3,)}")


def tflite_input_shape(model, num_frames=None, frame_size=None, clips=None):
    """(T, H, W) of the TFLite input: `num_frames` / `frame_size`, else the model's, else those of `clips`
    (N, T, H, W, 3) where the model leaves them open. Raises `ParameterError` if one stays open."""
    t, h, w = static_input_shape(model, num_frames, frame_size)
    if clips is not None and len(clips):
        t, h, w = (t or clips.shape[1]), (h or clips.shape[2]), (w or clips.shape[3])
    if t is None:
        raise ParameterError("num_frames", "the model takes any clip length: pass num_frames (or calibration clips)")
    if h is None or w is None:
        raise ParameterError("frame_size", "the model takes any frame size: pass frame_size (or calibration clips)")
    return int(t), int(h), int(w)


def _converter(saved_model_dir, quantize, calibration_clips, input_dtype):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["serving_default"])
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(calibration_clips, input_dtype)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def convert_tflite_modes(
    model: GSTVideoClassifier,
    paths: dict[str, str | os.PathLike],
    calibration_clips: np.ndarray | None = None,
    num_frames: int | None = None,
    frame_size: int | Sequence[int] | None = None,
    input_dtype: str = "float32",
    temporal_impl: str = "conv2d",
    audit: bool = True,
) -> dict[str, str | os.PathLike]:
    """Convert a `GSTVideoClassifier` to several .tflite files, `paths` = {quantize mode: path}, from one
    rewritten model and one intermediate SavedModel. Arguments as `convert_tflite`; returns `paths`.

    Example:

    ```python
    import os
    import keras_gst
    from keras_gst.export import convert_tflite_modes

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_tflite_modes(model, {"none": "gst_f32.tflite", "fp16": "gst_f16.tflite"})
    print(os.path.getsize("gst_f16.tflite") < 0.6 * os.path.getsize("gst_f32.tflite"))  # True
    ```
    """
    t, h, w = tflite_input_shape(model, num_frames, frame_size, calibration_clips)
    for quantize in paths:
        _check_mode(quantize, calibration_clips, (t, h, w))
    export_model = rewrite_for_export(model, t, (h, w), temporal_impl=temporal_impl)
    with tempfile.TemporaryDirectory(prefix="keras_gst_tflite_") as tmp:
        saved = os.path.join(tmp, "saved_model")
        with savedmodel_write_errors(tmp):
            write_archive(export_model, saved, (1, t, h, w, 3), input_dtype)
        for quantize, path in paths.items():
            flatbuffer = _converter(saved, quantize, calibration_clips, input_dtype).convert()
            write_flatbuffer(flatbuffer, path, audit=quantize == "int8" and audit)
    return paths


def write_flatbuffer(flatbuffer, path, audit=False):
    """Write a converted .tflite model to `path` atomically (a temporary file in the same folder, renamed
    over `path`: a failure or a kill leaves the previous file intact); `audit`: the all-int8 op audit
    first (`check_int8`), so a file on disk has passed it."""
    if audit:
        check_int8(flatbuffer)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(flatbuffer)
    return path


def convert_tflite(
    model: GSTVideoClassifier,
    path: str | os.PathLike,
    quantize: str = "none",
    calibration_clips: np.ndarray | None = None,
    num_frames: int | None = None,
    frame_size: int | Sequence[int] | None = None,
    input_dtype: str = "float32",
    temporal_impl: str = "conv2d",
    audit: bool = True,
) -> str | os.PathLike:
    """Convert a `GSTVideoClassifier` to a .tflite file at `path`; returns the path.

    Args:
        model: a `GSTVideoClassifier`.
        quantize: "none", "fp16", "dynamic" or "int8".
        calibration_clips: pixel clips (N, T, H, W, 3) (see `keras_gst.export.clips.load_clips`), needed
            for "int8"; real clips, not noise.
        num_frames, frame_size: static T and H, W (default: the model's, else those of
            `calibration_clips`).
        input_dtype: "float32" (normalised frames) or "uint8" (raw RGB, normalised inside).
        temporal_impl: "conv2d" (default, all-int8-capable) or "conv3d" (keeps CONV_3D, float in int8).
        audit: for "int8", raise `OpAuditError` (and write nothing) if any compute op reads float or a
            Flex op is present.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import TFLiteModel, convert_tflite

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_tflite(model, "gst.tflite", input_dtype="uint8")  # quantize="int8" needs calibration_clips (real clips)
    tflite = TFLiteModel("gst.tflite")
    print(tflite.input_shape, tflite.input_dtype)  # (1, 4, 32, 32, 3) uint8
    ```
    """
    convert_tflite_modes(model, {quantize: path}, calibration_clips, num_frames, frame_size, input_dtype,
                         temporal_impl, audit)
    return path


class TFLiteModel:
    """A .tflite video classifier run with `ai_edge_litert.interpreter.Interpreter` (XNNPACK on CPU).

    Attributes: `input_shape` (1, T, H, W, 3), `input_dtype` ("float32" or "uint8").
    Call with (N, T, H, W, 3) inputs of `input_dtype`: returns {"logits": (N, classes), ...}.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import TFLiteModel, convert_tflite

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_tflite(model, "gst.tflite", input_dtype="uint8")  # quantize="int8" needs calibration_clips (real clips)
    outputs = TFLiteModel("gst.tflite", num_threads=2)(np.zeros((2, 4, 32, 32, 3), "uint8"))  # pixels
    print(sorted(outputs), outputs["logits"].shape)  # ['logits', 'probabilities'] (2, 2)
    ```
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self.interpreter = Interpreter(model_path=self.path, num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
        self.runner = self.interpreter.get_signature_runner(key)
        inputs = self.runner.get_input_details()
        if len(inputs) != 1:
            raise ValueError(f"{self.path} takes inputs {sorted(inputs)}, not one clip: a streaming model? "
                             "run it with `keras-gst stream`")
        (self.input_name, detail), = inputs.items()
        self.input_shape = tuple(int(s) for s in detail["shape"])
        self.input_dtype = np.dtype(detail["dtype"]).name

    def __call__(self, frames):
        frames = np.asarray(frames, dtype=self.input_dtype)
        outs = [self.runner(**{self.input_name: frames[i : i + 1]}) for i in range(len(frames))]
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def logits_for_clips(self, clips):
        """Logits on pixel clips (see `clips.model_input`)."""
        return self(model_input(clips, self.input_dtype))["logits"]


def tflite_parity(model: keras.Model, path: str | os.PathLike, clips: np.ndarray, quantize: str = "none",
                  thresholds: tuple[float, float] | None = None, num_threads: int = 2,
                  raise_on_failure: bool = True) -> dict:
    """Parity report of the .tflite file at `path` against the Keras `model` on real pixel `clips`.

    Returns a dict: clips, max_abs_diff, max_abs_logit, rel_diff (= max_abs_diff / max_abs_logit),
    top1_agreement, the thresholds used and `passed`. Raises `ParityError` when rel_diff exceeds the
    mode's threshold or top-1 agreement falls below it (unless `raise_on_failure=False`).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import convert_tflite, tflite_parity

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_tflite(model, "gst.tflite", input_dtype="uint8")  # quantize="int8" needs calibration_clips (real clips)
    clips = np.random.default_rng(0).integers(0, 256, (2, 4, 32, 32, 3)).astype("float32")  # real clips in use
    report = tflite_parity(model, "gst.tflite", clips)
    print(report["passed"], report["clips"])  # True 2
    ```
    """
    max_rel, min_top1 = thresholds or PARITY_THRESHOLDS[quantize]
    tflite = TFLiteModel(path, num_threads=num_threads)
    report = compare_logits(keras_logits(model, clips, tflite.input_dtype), tflite.logits_for_clips(clips))
    report.update(
        format="tflite",
        quantize=quantize,
        size_mb=os.path.getsize(path) / 1e6,
        max_rel_diff_allowed=max_rel,
        min_top1_agreement=min_top1,
        passed=report["rel_diff"] <= max_rel and report["top1_agreement"] >= min_top1,
    )
    if raise_on_failure and not report["passed"]:
        raise ParityError(
            f"TFLite {quantize} {path}: rel logit diff {report['rel_diff']:.3g} (allowed {max_rel:g}), "
            f"top-1 agreement {report['top1_agreement']:.2f} (needed {min_top1:g})",
            report,
        )
    return report


def format_report(report):
    """One line for a parity report."""
    what = report.get("quantize") or report.get("format")
    return (
        f"{report['format']} {what}: {report['clips']} real clips, max |logit diff| {report['max_abs_diff']:.3g} "
        f"(max |logit| {report['max_abs_logit']:.3g}, relative {report['rel_diff']:.3g}), "
        f"top-1 agreement {report['top1_agreement']:.3f} -> {'OK' if report['passed'] else 'FAILED'}"
    )
