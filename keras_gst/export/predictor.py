"""One interface over the model formats for inference on clips: .keras, keras-hub preset dir, .tflite,
SavedModel dir (the workflows over it: `keras_gst.export.inference`).

`load_predictor(path)` returns a `Predictor` with `num_frames`, `size`, `input_dtype` (what the model
file takes) and `logits(clips)` for pixel clips (N, T, size, size, 3) in [0, 255] (see `clips.model_input`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_gst.errors import ModelFileError, ParameterError
from keras_gst.export.clips import model_input

DEFAULT_NUM_FRAMES = 8
DEFAULT_SIZE = 224


@dataclasses.dataclass
class Predictor:
    """A model file opened for inference (`load_predictor`): `logits(clips)` of pixel clips (N, T, size, size, 3)
    in [0, 255], whatever the file's format (`kind`) and input dtype.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import load_predictor

    keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3)).save("m.keras")  # any number of frames
    predictor = load_predictor("m.keras", num_frames=4)
    logits = predictor.logits(np.zeros((1, 4, 32, 32, 3), "float32"))  # pixel clips in [0, 255]
    print(predictor.kind, predictor.name, predictor.input_dtype, logits.shape)  # keras m.keras float32 (1, 2)
    ```
    """

    kind: str  # "keras", "preset", "tflite" or "savedmodel"
    path: str
    num_frames: int
    size: int
    input_dtype: str
    num_classes: int
    _run: object = dataclasses.field(repr=False)

    def logits(self, clips):
        clips = np.asarray(clips)
        if clips.ndim != 5 or clips.shape[1:] != (self.num_frames, self.size, self.size, 3):
            raise ValueError(f"expected clips (N, {self.num_frames}, {self.size}, {self.size}, 3), got {clips.shape}")
        return np.asarray(self._run(model_input(clips, self.input_dtype)), np.float32)

    @property
    def name(self):
        return os.path.basename(self.path.rstrip("/\\")) or self.path


def _pick(name, fixed, requested, default):
    if fixed is not None:
        if requested is not None and requested != fixed:
            raise ParameterError(name, f"the model file fixes {name}={fixed}; {requested} conflicts")
        return int(fixed)
    return int(requested if requested is not None else default)


def _square(h, w, path):
    if h != w:
        raise ModelFileError(path, f"takes {h}x{w} frames; only square crops are supported")
    return h


def load_predictor(path: str | os.PathLike, num_frames: int | None = None, size: int | None = None,
                   num_threads: int = 2, trust_savedmodel: bool = False) -> Predictor:
    """Open a .keras file, a keras-hub preset directory, a .tflite file or a SavedModel directory for inference.

    `num_frames`/`size` choose T and the crop size where the model file leaves them open (default 8
    and 224); they must agree with the model where it fixes them (else `ParameterError`). A .keras model,
    a preset and a SavedModel run as one frozen graph (weights as constants, BatchNorm folded: see
    `frozen_function`); a SavedModel's ops are checked first (`check_savedmodel`, skipped with
    `trust_savedmodel=True`). A file that cannot be used raises `ModelFileError` naming it.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import load_predictor

    keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3)).save("m.keras")  # any number of frames
    predictor = load_predictor("m.keras", num_frames=4)
    logits = predictor.logits(np.zeros((1, 4, 32, 32, 3), "float32"))  # pixel clips in [0, 255]
    print(predictor.num_frames, predictor.size, logits.shape)  # 4 32 (1, 2)
    ```
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(path, "does not exist (expected a model file or folder)")
    preset = os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json"))
    if os.path.isdir(path) and not preset:
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ModelFileError(path, "a directory without saved_model.pb or config.json (neither a SavedModel nor "
                                       "a keras-hub preset)")
        return _savedmodel_predictor(path, num_frames, size, trust_savedmodel)
    if path.endswith(".tflite"):
        from keras_gst.export.tflite import TFLiteModel

        try:
            model = TFLiteModel(path, num_threads=num_threads)
            classes = model.runner.get_output_details()["logits"]["shape"][-1]
        except (ValueError, RuntimeError, KeyError) as e:
            raise ModelFileError(path, f"not a usable clip .tflite model ({e})") from None
        _, t, h, w, _ = model.input_shape
        t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
        s = _pick("size", _square(h, w, path), size, DEFAULT_SIZE)
        return Predictor("tflite", path, t, s, model.input_dtype, int(classes), lambda x: model(x)["logits"])
    if path.endswith(".keras") or preset:
        from keras_gst.export.frozen import frozen_function
        from keras_gst.export.rewrite import load_keras_model

        model = load_keras_model(path)
        _, t, h, w, _ = model.inputs[0].shape
        t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
        s = _pick("size", _square(h, w, path) if h is not None else None, size, DEFAULT_SIZE)
        # one traced graph with the weights as constants (BatchNorm folded once), not eager layer calls
        forward = frozen_function(model, (None, t, s, s, 3))
        kind = "preset" if preset else "keras"
        return Predictor(kind, path, t, s, "float32", int(model.outputs[0].shape[-1]), lambda x: forward(x).numpy())
    raise ModelFileError(path, "unknown model format: expected a .keras file, a preset directory, a .tflite file or a "
                               "SavedModel directory")


def _savedmodel_predictor(path, num_frames, size, trust_savedmodel):
    import tensorflow as tf

    from keras_gst.export.savedmodel import load_savedmodel
    from keras_gst.export.trust import check_savedmodel
    from keras_gst.private_api import variables_to_constants

    check_savedmodel(path, trust=trust_savedmodel)
    try:
        loaded, fn, name, spec = load_savedmodel(path)
        classes = fn.structured_outputs["logits"].shape[-1]
    except (ValueError, KeyError, OSError, tf.errors.OpError) as e:
        raise ModelFileError(path, f"not a usable clip SavedModel ({e})") from None
    _, t, h, w, _ = spec.shape.as_list()
    t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
    s = _pick("size", _square(h, w, path) if h is not None else None, size, DEFAULT_SIZE)
    # the serving function with its variables as constants: the graph optimiser folds BatchNorm once. A
    # SavedModel from elsewhere that TF cannot freeze (e.g. stateful ops) runs as loaded.
    try:
        frozen = variables_to_constants(fn)
    except (ValueError, TypeError, tf.errors.OpError):
        frozen = None
    keys = sorted(fn.structured_outputs)

    def run(x):
        if frozen is None:
            return fn(**{name: tf.constant(x)})["logits"].numpy()
        outputs = frozen(**{name: tf.constant(x)})
        return (outputs["logits"] if isinstance(outputs, dict) else outputs[keys.index("logits")]).numpy()

    run.loaded = loaded  # keep the SavedModel alive with its function
    return Predictor("savedmodel", path, t, s, spec.dtype.name, int(classes), run)


def softmax(logits):
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_labels(path, num_classes=None):
    """Class names, one per line (blank lines skipped); checks the count against the model's classes
    (`ParameterError("labels")`)."""
    from keras_gst.data import read_label_map

    try:
        names = read_label_map(path)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ParameterError("labels", f"cannot read {path}: {e}") from None
    if num_classes is not None and len(names) != num_classes:
        raise ParameterError("labels", f"{path} has {len(names)} names, the model has {num_classes} classes")
    return names


def top_k(logits, k, labels=None):
    """[{rank, index, label, probability, logit}] for one clip's logits, best first."""
    probs = softmax(logits)
    order = np.argsort(-np.asarray(logits))[:k]
    return [
        {
            "rank": r + 1,
            "index": int(i),
            "label": labels[i] if labels else str(int(i)),
            "probability": float(probs[i]),
            "logit": float(logits[i]),
        }
        for r, i in enumerate(order)
    ]
