"""SavedModel export with a serving signature, and its parity check against the Keras model.

Signature `serving_default`: input `frames` (batch, T, H, W, 3), batch dynamic, either float32 frames
normalised as the model expects, or (``input_dtype="uint8"``) raw RGB pixels in [0, 255] that the
signature normalises as the classifier's preprocessor does (`normalize_clips`). Outputs: a dict with `logits` (batch,
classes) and `probabilities` (their softmax).

The archive is written with `keras.export.ExportArchive`, which tracks the Keras 3 variables so they
freeze into constants when converted to TFLite (a plain `tf.Module` wrapper converts with
READ_VARIABLE ops and gives NaN).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from keras_gst.atomic import atomic_dir
from keras_gst.errors import ParameterError
from keras_gst.export.errors import ParityError

from keras_gst.export.clips import model_input, normalize_clip, to_uint8
from keras_gst.export.rewrite import static_input_shape

if TYPE_CHECKING:
    import keras

INPUT_DTYPES = ("float32", "uint8")
SAVEDMODEL_TOLERANCE = 1e-5


def serving_function(model, input_dtype="float32"):
    """frames -> {"logits", "probabilities"}; uint8 frames are normalised inside."""
    if input_dtype not in INPUT_DTYPES:
        raise ParameterError("input_dtype", f"must be one of {INPUT_DTYPES}, got {input_dtype!r}")
    from keras_gst.models.gst_video_classifier_preprocessor import normalize_clips

    def serve(frames):
        x = normalize_clips(frames) if input_dtype == "uint8" else frames  # the classifier's normalisation
        logits = model(x, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}

    return serve


def write_archive(model, path, input_shape, input_dtype="float32"):
    """Write a SavedModel of `serving_function(model, input_dtype)` with input spec `input_shape`
    (batch, T, H, W, 3); returns `path`."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec(input_shape, tf.as_dtype(input_dtype), name="frames")
    archive.add_endpoint("serving_default", serving_function(model, input_dtype), input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    return path


WRITE_ERRORS = {"No space left on device": errno.ENOSPC, "File too large": errno.EFBIG, "quota exceeded": errno.EDQUOT}


@contextlib.contextmanager
def savedmodel_write_errors(folder: str) -> Iterator[None]:
    """TensorFlow's errors writing a SavedModel in `folder` (a full disk, a file size limit) as an `OSError`
    naming the folder (before: a TensorFlow traceback). A TFLite conversion writes its intermediate
    SavedModel in the temporary folder (TMPDIR)."""
    try:
        yield
    except tf.errors.OpError as e:
        for text, code in WRITE_ERRORS.items():
            if text.lower() in str(e).lower():
                where = " (set TMPDIR to a folder with space)" if folder.startswith(tempfile.gettempdir()) else ""
                raise OSError(code, f"cannot write a SavedModel there ({text}): free space{where}", folder) from None
        raise


def export_savedmodel(model: keras.Model, path: str | os.PathLike, num_frames: int | None = None,
                      frame_size: int | Sequence[int] | None = None, input_dtype: str = "float32") -> str | os.PathLike:
    """Export `model` as a SavedModel with a dynamic-batch serving signature (see module docstring).

    Args:
        model: a Keras video classifier taking (B, T, H, W, 3) normalised frames.
        path: output directory, written atomically (`keras_gst.atomic.atomic_dir`): an existing one is replaced only
            once the new one is complete.
        num_frames, frame_size: fix T and H, W in the signature (default: the model's input shape;
            dimensions the model leaves open stay dynamic).
        input_dtype: "float32" (normalised frames) or "uint8" (raw RGB, normalised inside).

    Example:

    ```python
    import keras_gst
    import tensorflow as tf
    from keras_gst.export import export_savedmodel

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    export_savedmodel(model, "gst_savedmodel", input_dtype="uint8")  # takes raw RGB pixels
    outputs = tf.saved_model.load("gst_savedmodel").signatures["serving_default"](
        frames=tf.zeros((2, 4, 32, 32, 3), tf.uint8))
    print(sorted(outputs), tuple(outputs["logits"].shape))  # ['logits', 'probabilities'] (2, 2)
    ```
    """
    t, h, w = static_input_shape(model, num_frames, frame_size)
    with atomic_dir(path) as tmp, savedmodel_write_errors(os.path.dirname(os.path.abspath(path))):
        write_archive(model, tmp, (None, t, h, w, 3), input_dtype)
    return path


def load_savedmodel(path: str | os.PathLike) -> tuple[Any, Callable, str, tf.TensorSpec]:
    """The `serving_default` function of a SavedModel and its input spec: (loaded object, function, input
    name, input spec).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import export_savedmodel, load_savedmodel

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    export_savedmodel(model, "gst_savedmodel", input_dtype="uint8")  # takes raw RGB pixels
    loaded, serve, name, spec = load_savedmodel("gst_savedmodel")
    print(name, spec.shape, spec.dtype.name)  # frames (None, 4, 32, 32, 3) uint8
    ```
    """
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path} has no serving_default signature (it has {sorted(loaded.signatures)}): a streaming "
                         "SavedModel? run it with `keras-gst stream`")
    fn = loaded.signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    return loaded, fn, name, spec


def run_savedmodel(fn, name, clips, input_dtype):
    """Logits of a SavedModel signature on pixel clips (N, T, H, W, 3) (see `clips.model_input`)."""
    return fn(**{name: tf.constant(model_input(clips, input_dtype))})["logits"].numpy()


def keras_logits(model, clips, input_dtype="float32", batch_size=4):
    """Reference logits of the Keras model on pixel clips, normalised here; with `input_dtype="uint8"`
    the pixels are first rounded to uint8, as the exported model with uint8 input sees them."""
    if input_dtype == "uint8":
        clips = to_uint8(clips)
    out = [model(normalize_clip(clips[i : i + batch_size]), training=False) for i in range(0, len(clips), batch_size)]
    return np.concatenate([np.asarray(o) for o in out])


def compare_logits(reference, candidate):
    """max abs diff, the reference's largest |logit|, the ratio of the two, top-1 agreement."""
    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    diff = float(np.max(np.abs(reference - candidate)))
    scale = float(np.max(np.abs(reference)))
    return {
        "clips": int(len(reference)),
        "max_abs_diff": diff,
        "max_abs_logit": scale,
        "rel_diff": diff / max(scale, 1e-12),
        "top1_agreement": float(np.mean(np.argmax(reference, -1) == np.argmax(candidate, -1))),
    }


def savedmodel_parity(model: keras.Model, path: str | os.PathLike, clips: np.ndarray,
                      tolerance: float = SAVEDMODEL_TOLERANCE, raise_on_failure: bool = True) -> dict:
    """Load the SavedModel at `path` with `tf.saved_model.load`, run it and the Keras `model` on uint8
    `clips` and report (dict) the max abs logit diff; raise `ParityError` beyond `tolerance`.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import export_savedmodel, savedmodel_parity

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    export_savedmodel(model, "gst_savedmodel", input_dtype="uint8")  # takes raw RGB pixels
    clips = np.random.default_rng(0).integers(0, 256, (2, 4, 32, 32, 3)).astype("uint8")
    report = savedmodel_parity(model, "gst_savedmodel", clips)
    print(report["passed"], report["max_abs_diff"] <= 1e-5)  # True True
    ```
    """
    _, fn, name, spec = load_savedmodel(path)
    candidate = run_savedmodel(fn, name, clips, spec.dtype.name)
    report = compare_logits(keras_logits(model, clips, spec.dtype.name), candidate)
    report.update(format="savedmodel", input_dtype=spec.dtype.name, tolerance=tolerance,
                  passed=report["max_abs_diff"] <= tolerance)
    if raise_on_failure and not report["passed"]:
        raise ParityError(
            f"SavedModel {path}: max abs logit diff {report['max_abs_diff']:.3g} > tolerance {tolerance:g}", report
        )
    return report
