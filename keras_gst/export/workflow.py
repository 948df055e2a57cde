"""The export workflow, once: `export_model(model, out, format)` checks every argument, loads the model,
calibrates, converts, audits the int8 ops, runs the parity gate on real clips and returns an
`ExportResult`. `keras-gst export`, `keras-gst train`'s export step and the export/ scripts all run it.

Order (nothing is loaded before the arguments pass `check_export_arguments`, which needs no TensorFlow):

1. arguments and paths: choices, ranges, combinations, the output path (its folder must be creatable and
   writable; a .tflite path must not be a folder, a SavedModel path must not be a file), the model and
   data paths exist (`keras_gst.checks`). A bad one raises `ParameterError` (a missing data path
   `DataFileError`) naming the keyword argument. Then `out` is locked (`keras_gst.locks.replace_lock`):
   a second export into it is refused at once with `FolderLockedError` naming the first.
2. the model (a `GSTVideoClassifier`, or a .keras file / preset directory: `ModelFileError` naming it),
   rebuilt at the requested T / frame size if it fixes others; NaN or infinite weights or logits are
   refused (`ModelFileError`), with or without a parity report.
3. int8: calibration clips (2 TSN test phases per video, at most `max_calibration_clips`).
4. conversion: SavedModel directories are written to a temporary folder beside `out` and renamed into
   place (`keras_gst.atomic.atomic_dir`), .tflite files to a temporary file renamed over `out` (`atomic_path`): a
   failure or a kill leaves a previous `out` intact. int8 files pass the op audit before they are written.
5. the parity report on real clips (`parity_data`; TFLite: default the calibration data); beyond the
   thresholds `ParityError` (its `.report`, `.result`), the file kept for inspection.

Skip policy (the same for every caller): a calibration or parity input that cannot be read (an empty or
broken video) is logged, counted in `ExportResult.skipped` and left out; only when no input of a set can
be read is it an error (`ParameterError` on `calibration` / `parity_data`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from keras_gst.locks import replace_lock
from keras_gst.checks import MAX_THREADS, SIZE_RANGE, check_input, check_integer, check_num_frames, check_output
from keras_gst.errors import ModelFileError, ParameterError
from keras_gst.models.specs import MIN_SIZE

if TYPE_CHECKING:
    from keras_gst.models import GSTVideoClassifier

    Sources = str | os.PathLike | Sequence[str | os.PathLike]

FORMATS = ("savedmodel", "tflite", "streaming", "onnx")

QUANTIZE = ("none", "fp16", "dynamic", "int8")
INPUT_DTYPES = ("float32", "uint8")
TEMPORAL_IMPLS = ("conv2d", "conv3d")
DATA_HELP = "videos, frame folders, directories of them or list files"


@dataclasses.dataclass
class ExportResult:
    """What `export_model` wrote and measured.

    path: the output; kind: "savedmodel", "tflite", "onnx", "streaming-savedmodel" or "streaming-tflite";
    quantize, input_dtype, input_shape (T, H, W); size_bytes (a folder: all its files);
    calibration_clips: how many clips calibrated int8 (0 otherwise); report: the parity report (dict,
    None without parity); audit: the int8 op audit (`OpInfo` list, None unless int8); skipped: (path,
    reason) of every unreadable calibration / parity input left out; rebuilt_from: the (T, H, W) the model
    file fixed when it was rebuilt at `input_shape`; delay: frames of delay of a streaming export.

    Example:

    ```python
    from keras_gst.export import ExportResult

    result = ExportResult("gst.tflite", "tflite", "fp16", "float32", (8, 224, 224), size_bytes=22_000_000)
    print(result.calibration_clips, result.report, result.skipped)  # 0 None []
    ```
    """

    path: str
    kind: str
    quantize: str
    input_dtype: str
    input_shape: tuple
    size_bytes: int = 0
    calibration_clips: int = 0
    report: dict | None = None
    audit: list | None = None
    skipped: list = dataclasses.field(default_factory=list)
    rebuilt_from: tuple | None = None
    delay: int | None = None

    @property
    def passed(self):
        """The parity report passed (True without a report)."""
        return self.report is None or bool(self.report["passed"])


def is_tflite_output(format, out):
    return format == "tflite" or (format == "streaming" and os.fspath(out).endswith(".tflite"))


def _check_sources(sources, param):
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else sources
    return [os.fspath(check_input(param, s, "video, frame folder, directory of them or list file")) for s in sources]


def check_export_arguments(model: GSTVideoClassifier | str | os.PathLike, out: str | os.PathLike,
                           format: str = "savedmodel", quantize: str = "none", calibration: Sources | None = None,
                           parity_data: Sources | None = None, parity: bool = True, num_frames: int | None = None,
                           size: int | None = None, input_dtype: str = "float32", max_calibration_clips: int = 32,
                           temporal_impl: str = "conv2d", threads: int = 2, max_rel_diff: float | None = None,
                           min_top1: float | None = None) -> tuple[list | None, list | None]:
    """Every check of `export_model` that needs neither the model nor a video (no TensorFlow import);
    raises `ParameterError` (a missing calibration / parity path: `DataFileError`) naming the argument.
    Returns (calibration, parity_data) as lists or None.

    Example:

    ```python
    from keras_gst.errors import ParameterError
    from keras_gst.export import check_export_arguments

    try:
        check_export_arguments("m.keras", "gst.tflite", "tflite", quantize="int4")
    except ParameterError as error:
        print(error.param)  # quantize
    ```
    """

    def choice(name, value, choices):
        if value not in choices:
            raise ParameterError(name, f"must be one of {list(choices)}, got {value!r}")

    choice("format", format, FORMATS)
    choice("quantize", quantize, QUANTIZE)
    choice("input_dtype", input_dtype, INPUT_DTYPES)
    choice("temporal_impl", temporal_impl, TEMPORAL_IMPLS)
    check_num_frames(num_frames)
    check_integer("size", size, MIN_SIZE, SIZE_RANGE[1])
    check_integer("threads", threads, 1, MAX_THREADS)
    check_integer("max_calibration_clips", max_calibration_clips, 1)
    if max_rel_diff is not None and not max_rel_diff > 0:
        raise ParameterError("max_rel_diff", f"must be > 0, got {max_rel_diff!r}")
    if min_top1 is not None and not 0 < min_top1 <= 1:
        raise ParameterError("min_top1", f"must be in (0, 1], got {min_top1!r}")
    tflite = is_tflite_output(format, out)
    if quantize != "none" and not tflite:
        raise ParameterError("quantize", f"applies to TFLite files only (format 'tflite', or 'streaming' with a "
                                         f".tflite out), got {quantize!r} with format {format!r}")
    if format in ("streaming", "onnx") and input_dtype != "float32":
        raise ParameterError("input_dtype", f"a {format} export takes float32 (normalised) frames only")
    if format == "onnx":
        from keras_gst.export.onnx_export import check_onnx_installed

        check_onnx_installed()
    if quantize == "int8" and not calibration:
        raise ParameterError("calibration", f"int8 calibrates on real clips: pass {DATA_HELP}")
    if parity and not (parity_data or (calibration if tflite else None)):
        raise ParameterError("parity_data", f"the parity report runs on real clips: pass {DATA_HELP}, or skip "
                                            f"the report")
    if isinstance(model, (str, os.PathLike)) and not os.path.exists(model):
        raise ModelFileError(model, "no such file or directory (a .keras file or a keras-hub preset directory)")
    check_output("out", out, directory=not (tflite or format == "onnx"))
    return (_check_sources(calibration, "calibration") if calibration else None,
            _check_sources(parity_data, "parity_data") if parity_data else None)


def _load(model):
    if not isinstance(model, (str, os.PathLike)):
        return model, getattr(model, "name", "the model")
    from keras_gst.export.rewrite import load_keras_model

    path = os.fspath(model)
    try:
        return load_keras_model(path), path
    except ModelFileError:  # names the file and what it is already
        raise
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ModelFileError(path, f"cannot be loaded as a keras_gst model: {e}") from e


def _shape(model, label, num_frames, size):
    """(model at the export shape, (T, H, W), the (T, H, W) the model fixed if it was rebuilt)."""
    from keras_gst.export.predictor import DEFAULT_NUM_FRAMES, DEFAULT_SIZE
    from keras_gst.export.rewrite import rewrite_for_export, static_input_shape

    fixed = static_input_shape(model)
    shape = (num_frames or fixed[0] or DEFAULT_NUM_FRAMES, size or fixed[1] or DEFAULT_SIZE,
             size or fixed[2] or DEFAULT_SIZE)
    if shape[1] != shape[2]:
        raise ParameterError("size", f"{label} takes {shape[1]}x{shape[2]} frames; exports take square frames")
    if tuple(fixed) == shape:
        return model, shape, None
    # an open dimension is fixed too (a stream needs a static frame size); `fixed` reports only a conflict
    conflict = None if all(f is None or f == s for f, s in zip(fixed, shape)) else fixed
    try:
        return rewrite_for_export(model, shape[0], shape[1:], temporal_impl=model.temporal_impl), shape, conflict
    except TypeError as e:
        raise ModelFileError(label, f"fixes input {fixed}, cannot be exported at {shape}: {e}") from e


def check_finite(model, label, shape):
    """Refuse a model whose weights, or logits on a seeded random clip, hold NaN or infinity (`ModelFileError`)."""
    import numpy as np

    bad = [v.path for v in model.weights if not np.all(np.isfinite(np.asarray(v, np.float64)))]
    if bad:
        raise ModelFileError(label, f"{len(bad)} weight tensors hold NaN or infinity (e.g. {bad[0]}): a diverged "
                                    f"run; export a model from an earlier checkpoint")
    probe = np.random.default_rng(0).standard_normal((1,) + tuple(shape) + (3,)).astype(np.float32)  # normalised frames
    logits = np.asarray(model(probe, training=False))
    if not np.all(np.isfinite(logits)):
        raise ModelFileError(label, "gives NaN or infinite logits: export a model from an earlier checkpoint")


def _clips(sources, param, shape, clips_per_video, max_clips, root, skipped):
    from keras_gst.export.clips import ClipReadError, load_clips

    try:
        return load_clips(sources, shape[0], shape[1], clips_per_video=clips_per_video, max_clips=max_clips,
                          root=root, skipped=skipped)[0]
    except ClipReadError as e:
        raise ParameterError(param, str(e)) from e


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def export_model(model: GSTVideoClassifier | str | os.PathLike, out: str | os.PathLike, format: str = "savedmodel", *,
                 quantize: str = "none", calibration: Sources | None = None, parity_data: Sources | None = None,
                 parity: bool = True, num_frames: int | None = None, size: int | None = None,
                 input_dtype: str = "float32", max_calibration_clips: int = 32, temporal_impl: str = "conv2d",
                 data_root: str | os.PathLike | None = None, threads: int = 2, max_rel_diff: float | None = None,
                 min_top1: float | None = None, verbose: bool = False) -> ExportResult:
    """Export a GST model and check it (see the module docstring); returns an `ExportResult`.

    Args:
        model: a `GSTVideoClassifier`, or the path of a .keras file or keras-hub preset directory.
        out: the SavedModel folder, .tflite or .onnx file to write.
        format: "savedmodel" (serving signature, dynamic batch), "tflite", "onnx" (Keras' ONNX export, batch 1,
            float32 frames; needs `keras-gst[onnx]`), or "streaming" (frame by frame:
            a SavedModel folder, or with a .tflite `out` the stream step as TFLite).
        quantize: TFLite only: "none" (float32), "fp16", "dynamic" or "int8".
        calibration: int8 representative data (videos, frame folders, directories, list files).
        parity_data: real clips for the parity report (TFLite default: `calibration`).
        parity: False skips the parity report (the NaN check still runs).
        num_frames, size: T and frame side (default: the model's, else 8 and 224).
        input_dtype: "float32" (normalised frames) or "uint8" (RGB pixels, normalised inside).
        max_calibration_clips: at most this many calibration clips.
        temporal_impl: TFLite: "conv2d" (all-int8 capable) or "conv3d" (keeps CONV_3D; int8 then fails the audit).
        data_root: root of the paths in list files (default: the list's folder).
        threads: interpreter (TFLite, ONNX Runtime) threads for the parity run.
        max_rel_diff, min_top1: override the mode's parity thresholds (`PARITY_THRESHOLDS`).
        verbose: print one line per step (calibration, file written).

    Raises `ParameterError`, `ModelFileError`, `DataFileError`, `OpAuditError` (nothing written), `ParityError` (file
    kept; `.report` and `.result`) or `keras_gst.locks.FolderLockedError` (another process exports into `out`).

    Example:

    ```python
    import keras_gst
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.export import export_model

    write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    result = export_model(model, "gst.tflite", "tflite", parity_data="synthetic/videos")  # int8: calibration=...
    print(result.kind, result.input_shape, result.report["passed"])  # tflite (4, 32, 32) True
    ```
    """
    calibration, parity_data = check_export_arguments(
        model, out, format, quantize, calibration, parity_data, parity, num_frames, size, input_dtype,
        max_calibration_clips, temporal_impl, threads, max_rel_diff, min_top1)
    out = os.fspath(out)
    with replace_lock(out):  # one export into `out` at a time: a second one is refused at once
        return _export(model, out, format, quantize, calibration, parity_data, parity, num_frames, size, input_dtype,
                       max_calibration_clips, temporal_impl, data_root, threads, max_rel_diff, min_top1, verbose)


def _export(model, out, format, quantize, calibration, parity_data, parity, num_frames, size, input_dtype,
            max_calibration_clips, temporal_impl, data_root, threads, max_rel_diff, min_top1, verbose):
    from keras_gst.export.errors import ParityError

    say = print if verbose else (lambda *a, **k: None)
    model, label = _load(model)
    model, shape, fixed = _shape(model, label, num_frames, size)
    if fixed is not None:
        say(f"rebuilt {label} for input {shape[0]}x{shape[1]}x{shape[2]} (it fixes {fixed})")
    check_finite(model, label, shape)
    tflite = is_tflite_output(format, out)
    kind = "onnx" if format == "onnx" else ("streaming-" if format == "streaming" else "") + (
        "tflite" if tflite else "savedmodel")
    result = ExportResult(out, kind, quantize, input_dtype, shape, rebuilt_from=fixed)
    skipped = []
    calibration_clips = None
    if quantize == "int8":
        calibration_clips = _clips(calibration, "calibration", shape, 2, max_calibration_clips, data_root, skipped)
        result.calibration_clips = len(calibration_clips)
        say(f"calibrating on {len(calibration_clips)} real clips"
            + (" run frame by frame" if format == "streaming" else ""), flush=True)
    stream = _convert(model, out, format, tflite, quantize, calibration_clips, shape, input_dtype, temporal_impl)
    result.size_bytes = _size(out)
    result.delay = getattr(stream, "delay", None)
    if quantize == "int8":
        from keras_gst.export.audit import audit_tflite

        result.audit = audit_tflite(out)
    say(f"wrote {describe(result)}", flush=True)
    if parity:
        clips = _clips(parity_data or calibration, "parity_data", shape, 1, None, data_root, skipped)
        result.report = _parity(model, out, format, tflite, quantize, stream, clips, threads, max_rel_diff, min_top1)
    result.skipped = sorted(dict(skipped).items())
    if not result.passed:
        error = ParityError(f"{out} fails the parity check (kept for inspection): {format_parity(result.report)}",
                            result.report)
        error.result = result
        raise error
    return result


def _convert(model, out, format, tflite, quantize, calibration_clips, shape, input_dtype, temporal_impl):
    """Write `out`; returns the `StreamingGST` of a streaming export (else None)."""
    if format == "streaming" and tflite:
        from keras_gst.export.streaming_tflite import convert_streaming_tflite

        return convert_streaming_tflite(model, out, quantize, calibration_clips)
    if format == "streaming":
        from keras_gst.atomic import atomic_dir
        from keras_gst.export.streaming import export_streaming_savedmodel

        with atomic_dir(out) as tmp:
            stream = export_streaming_savedmodel(model, tmp)
        return stream
    if format == "onnx":
        from keras_gst.export.onnx_export import export_onnx

        export_onnx(model, out, shape)
        return None
    if format == "savedmodel":
        from keras_gst.export.savedmodel import export_savedmodel

        export_savedmodel(model, out, num_frames=shape[0], frame_size=shape[1:], input_dtype=input_dtype)
        return None
    from keras_gst.export.tflite import convert_tflite

    convert_tflite(model, out, quantize, calibration_clips, shape[0], shape[1:], input_dtype, temporal_impl)
    return None


def _parity(model, out, format, tflite, quantize, stream, clips, threads, max_rel_diff, min_top1):
    from keras_gst.export.tflite import PARITY_THRESHOLDS

    default_rel, default_top1 = PARITY_THRESHOLDS[quantize]
    thresholds = (max_rel_diff if max_rel_diff is not None else default_rel,
                  min_top1 if min_top1 is not None else default_top1)
    if format == "streaming" and tflite:
        from keras_gst.export.streaming_tflite import streaming_parity

        return streaming_parity(model, out, clips, quantize, thresholds, num_threads=threads, raise_on_failure=False)
    if format == "streaming":
        return _streaming_savedmodel_parity(stream, model, clips)
    if format == "onnx":
        from keras_gst.export.onnx_export import onnx_parity

        return onnx_parity(model, out, clips, thresholds, num_threads=threads)
    if format == "savedmodel":
        from keras_gst.export.savedmodel import savedmodel_parity

        return savedmodel_parity(model, out, clips, raise_on_failure=False)
    from keras_gst.export.tflite import tflite_parity

    return tflite_parity(model, out, clips, quantize, thresholds, num_threads=threads, raise_on_failure=False)


def _streaming_savedmodel_parity(stream, model, clips, tolerance=1e-5):
    """Stream vs offline clip logits on real clips (relative to the largest per-frame logit)."""
    import numpy as np

    from keras_gst.export.clips import normalize_clip
    from keras_gst.export.savedmodel import compare_logits

    x = normalize_clip(clips)
    _, clip = stream.run(x)
    report = compare_logits(np.asarray(model(x, training=False)), clip)
    report.update(format="streaming", input_dtype="float32", tolerance=tolerance,
                  passed=report["max_abs_diff"] <= tolerance * max(1.0, report["max_abs_logit"]))
    return report


def describe(result):
    """One phrase for what was written, e.g. `m.tflite (int8, 8.9 MB)`."""
    t, h, w = result.input_shape
    what = {"savedmodel": f"SavedModel {result.path} (frames {t}x{h}x{w}, input {result.input_dtype}, dynamic batch",
            "tflite": f"{result.path} ({result.quantize}",
            "onnx": f"ONNX {result.path} (frames {t}x{h}x{w}, input float32, batch 1",
            "streaming-savedmodel": f"streaming SavedModel {result.path} (frames {h}x{w}, delay {result.delay} frames",
            "streaming-tflite": f"streaming {result.path} ({result.quantize}, frames {h}x{w}, delay {result.delay} frames",
            }[result.kind]
    return f"{what}, {result.size_bytes / 1e6:.1f} MB)"


def format_parity(report):
    """One line for any parity report of `export_model`."""
    from keras_gst.export.streaming_tflite import format_streaming_report
    from keras_gst.export.tflite import format_report

    if "frames" in report:
        return format_streaming_report(report)
    if report["format"] in ("tflite", "onnx"):
        return format_report(report)
    return (f"{report['format']} ({report['input_dtype']} input): {report['clips']} real clips, max |logit diff| "
            f"{report['max_abs_diff']:.3g} (tolerance {report['tolerance']:g}), top-1 agreement "
            f"{report['top1_agreement']:.3f} -> {'OK' if report['passed'] else 'FAILED'}")
