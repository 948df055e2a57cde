"""The streaming step as a TFLite (LiteRT) file: float32, float16, dynamic-range or calibrated all-int8.

The file holds one signature, `serving_default`, batch 1: inputs `frame` (1, H, W, 3) normalised float32,
`valid` (1,) (1.0 for a real frame, 0.0 for a flush step) and the `state_*` tensors (zeros at the start
of every video); outputs `frame_logits` (1, classes) of the frame `delay` steps back, `valid` (1,) and
the next `state_*` tensors (feed them back unchanged). Every state has rank <= 4 (the GPU and NNAPI
delegates reject 5-D tensors). Float files also carry the running clip mean (`state_clip_sum`,
`state_clip_count`, output `clip_logits`); the int8 file does not (its calibrated range would saturate
on long videos): average `frame_logits` over the valid frames on the host (`FrameStream.run` does).

int8: the stream is run frame by frame over real calibration clips (plus the flush steps) with the fp32
step, and every step's (frame, valid, states) feeds the converter's representative dataset, so the
state ranges are those of real videos. `TFLITE_BUILTINS_INT8` only, float32 input and output (quantized
inside), then the op audit of the clip export (`check_int8`: no float CONV/FC, no Flex op).

`streaming_parity` compares a stream file with the fp32 stream (per-frame logits) and with the offline
clip model (clip logits = mean of the per-frame logits), with the thresholds and exit code of the clip
export (`PARITY_THRESHOLDS`).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import TYPE_CHECKING

import numpy as np

from keras_gst.errors import ParameterError
from keras_gst.export.clips import normalize_clip
from keras_gst.export.savedmodel import ParityError, compare_logits, savedmodel_write_errors
from keras_gst.export.stream_runner import load_stream
from keras_gst.export.streaming import StreamingGST
from keras_gst.export.tflite import PARITY_THRESHOLDS, QUANTIZE_MODES, write_flatbuffer

if TYPE_CHECKING:
    from keras_gst.models import GSTVideoClassifier


def _stream_inputs(stream, clips, clip_state):
    """Every (frame, valid, states) the fp32 stream sees on `clips` (N, T, H, W, 3) normalised, run frame
    by frame from zero states and flushed: the representative dataset of the int8 stream."""
    import tensorflow as tf

    step = tf.function(stream.step)
    for clip in np.asarray(clips, np.float32):
        states = stream.init_states(1, clip_state=clip_state)
        for s in range(len(clip) + stream.delay):
            real = s < len(clip)
            frame = tf.constant(clip[s : s + 1] if real else np.zeros_like(clip[:1]))
            valid = tf.constant([1.0 if real else 0.0])
            yield {"frame": frame.numpy(), "valid": valid.numpy(), **{f"state_{k}": v.numpy() for k, v in states.items()}}
            states = step(frame, valid, states)[1]


def convert_streaming_tflite(model: GSTVideoClassifier, path: str | os.PathLike, quantize: str = "none",
                             calibration_clips: np.ndarray | None = None, audit: bool = True) -> StreamingGST:
    """Write the stream step of a `GSTResNet` (block "gst" or "c2d", static frame size) as a .tflite file.

    Args:
        quantize: "none", "fp16", "dynamic" or "int8".
        calibration_clips: real pixel clips (N, T, H, W, 3) in [0, 255] (see `load_clips`), needed for int8.
        audit: for int8, raise `OpAuditError` (and write nothing) unless every CONV/FC reads int8.

    Returns the `StreamingGST`. Goes through `keras.export.ExportArchive` -> SavedModel ->
    `TFLiteConverter.from_saved_model` (a plain tf.Module keeps the Keras variables as READ_VARIABLE ops
    in TFLite and gives NaN).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import convert_streaming_tflite, load_stream

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_streaming_tflite(model, "gst_stream.tflite")  # quantize="int8" needs calibration_clips (real clips)
    stream = load_stream("gst_stream.tflite")
    frame_logits, clip_logits = stream.run(np.zeros((4, 32, 32, 3), "float32"))  # normalised frames
    print(stream.kind, frame_logits.shape, clip_logits.shape)  # tflite (4, 2) (2,)
    ```
    """
    import keras
    import tensorflow as tf

    if quantize not in QUANTIZE_MODES:
        raise ParameterError("quantize", f"must be one of {QUANTIZE_MODES}, got {quantize!r}")
    stream = StreamingGST(model)
    h, w, _ = stream.frame_shape
    if quantize == "int8":
        if calibration_clips is None or len(calibration_clips) == 0:
            raise ParameterError("calibration_clips", "int8 streaming calibrates on real clips (see load_clips)")
        if tuple(calibration_clips.shape[2:]) != (h, w, 3):
            raise ParameterError("calibration_clips", f"clips have frames {calibration_clips.shape[2:]}, the model "
                                                      f"takes {(h, w, 3)}")
    clip_state = quantize != "int8"
    names = sorted(stream.init_states(1, clip_state))
    specs = {f"state_{k}": tf.TensorSpec((1,) + tuple(v.shape[1:]), tf.float32, name=f"state_{k}")
             for k, v in stream.init_states(1, clip_state).items()}

    def call(frame, valid, states):
        out, new = stream.step(frame, valid, {k: states[f"state_{k}"] for k in names})
        out.update({f"state_{k}": new[k] for k in names})
        return out

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", call, input_signature=[
        tf.TensorSpec((1, h, w, 3), tf.float32, name="frame"), tf.TensorSpec((1,), tf.float32, name="valid"), specs])
    with tempfile.TemporaryDirectory(prefix="keras_gst_stream_") as tmp:
        with savedmodel_write_errors(tmp):
            archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            clips = normalize_clip(calibration_clips)
            converter.representative_dataset = lambda: _stream_inputs(stream, clips, clip_state)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with warnings.catch_warnings():
            # TF's calibrator feeds named inputs (our dict samples) through the deprecated tf.lite.Interpreter
            # (tensorflow/lite/python/optimize/calibrator.py), which warns on creation: TF's notice, not ours
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
            flatbuffer = converter.convert()
    write_flatbuffer(flatbuffer, path, audit=quantize == "int8" and audit)
    return stream


export_streaming_tflite = convert_streaming_tflite


def streaming_parity(model: GSTVideoClassifier, path: str | os.PathLike, clips: np.ndarray, quantize: str = "none",
                     thresholds: tuple[float, float] | None = None, num_threads: int = 2,
                     raise_on_failure: bool = True) -> dict:
    """Parity report of the stream file at `path` (.tflite or streaming SavedModel dir) on real pixel `clips`.

    Two comparisons: per-frame logits against the fp32 stream (`StreamingGST`, equal to the offline
    per-frame model) and clip logits (mean over frames) against the offline clip model `model`. Returns a
    dict: the clip-level numbers at the top level (as the clip export's report: clips, max_abs_diff,
    max_abs_logit, rel_diff, top1_agreement), `frames` with the per-frame ones, the thresholds and
    `passed` (both comparisons within `PARITY_THRESHOLDS[quantize]` or `thresholds`). Raises `ParityError`
    on failure unless `raise_on_failure=False`.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import convert_streaming_tflite, streaming_parity

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    convert_streaming_tflite(model, "gst_stream.tflite")  # quantize="int8" needs calibration_clips (real clips)
    clips = np.random.default_rng(0).integers(0, 256, (1, 4, 32, 32, 3)).astype("float32")  # real clips in use
    report = streaming_parity(model, "gst_stream.tflite", clips)
    print(report["passed"], report["clips"])  # True 1
    ```
    """
    max_rel, min_top1 = thresholds or PARITY_THRESHOLDS[quantize]
    x = normalize_clip(clips)
    ref_frames, _ = StreamingGST(model).run(x)
    runner = load_stream(path, num_threads=num_threads)
    got = [runner.run(clip) for clip in x]
    got_frames = np.stack([f for f, _ in got])
    report = compare_logits(np.asarray(model(x, training=False)), np.stack([c for _, c in got]))
    frames = compare_logits(ref_frames.reshape(-1, ref_frames.shape[-1]), got_frames.reshape(-1, got_frames.shape[-1]))
    passed = all(r["rel_diff"] <= max_rel and r["top1_agreement"] >= min_top1 for r in (report, frames))
    report.update(format="streaming", kind=runner.kind, quantize=quantize, delay=runner.delay, frames=frames,
                  max_rel_diff_allowed=max_rel, min_top1_agreement=min_top1, passed=passed)
    if os.path.isfile(path):
        report["size_mb"] = os.path.getsize(path) / 1e6
    if raise_on_failure and not passed:
        raise ParityError(
            f"stream {quantize} {path}: clip rel logit diff {report['rel_diff']:.3g}, per-frame {frames['rel_diff']:.3g} "
            f"(allowed {max_rel:g}); top-1 agreement clip {report['top1_agreement']:.2f}, per-frame "
            f"{frames['top1_agreement']:.2f} (needed {min_top1:g})",
            report,
        )
    return report


def format_streaming_report(report):
    """One line for a `streaming_parity` report."""
    f = report["frames"]
    return (
        f"stream {report['kind']} {report['quantize']} (delay {report['delay']}): {report['clips']} real clips; "
        f"vs the offline clip model: max |logit diff| {report['max_abs_diff']:.3g} (relative {report['rel_diff']:.3g}), "
        f"top-1 agreement {report['top1_agreement']:.3f}; vs the fp32 stream, {f['clips']} frames: relative "
        f"{f['rel_diff']:.3g}, top-1 agreement {f['top1_agreement']:.3f} -> {'OK' if report['passed'] else 'FAILED'}"
    )
