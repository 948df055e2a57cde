"""One interface over the model formats for inference on clips: .keras, keras-hub preset dir, .tflite,
SavedModel dir.

`load_predictor(path)` returns a `Predictor` with `num_frames`, `size`, `input_dtype` (what the model
file takes) and `logits(clips)` for pixel clips (N, T, size, size, 3) in [0, 255] (see `clips.model_input`).
"""

import dataclasses
import os

import numpy as np

from keras_gst.export.clips import model_input

DEFAULT_NUM_FRAMES = 8
DEFAULT_SIZE = 224


@dataclasses.dataclass
class Predictor:
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


FLAGS = {"num_frames": "--frames", "size": "--size"}  # the CLI flag of each choice, for messages


def _pick(name, fixed, requested, default):
    if fixed is not None:
        if requested is not None and requested != fixed:
            raise ValueError(f"the model file fixes {name}={fixed}; {FLAGS.get(name, name)} {requested} conflicts")
        return int(fixed)
    return int(requested if requested is not None else default)


def _square(h, w, what):
    if h != w:
        raise ValueError(f"{what} takes {h}x{w} frames; only square crops are supported by predict")
    return h


def load_predictor(path, num_frames=None, size=None, num_threads=2):
    """Open a .keras file, a keras-hub preset directory, a .tflite file or a SavedModel directory for inference.

    `num_frames`/`size` choose T and the crop size where the model file leaves them open (default 8
    and 224); they must agree with the model where it fixes them.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model {path} does not exist")
    preset = os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json"))
    if os.path.isdir(path) and not preset:
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path} is a directory without saved_model.pb or config.json (neither a SavedModel nor "
                             f"a keras-hub preset)")
        import tensorflow as tf

        from keras_gst.export.savedmodel import load_savedmodel

        loaded, fn, name, spec = load_savedmodel(path)
        _, t, h, w, _ = spec.shape.as_list()
        t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
        s = _pick("size", _square(h, w, path) if h is not None else None, size, DEFAULT_SIZE)
        classes = fn.structured_outputs["logits"].shape[-1]

        def run(x):
            return fn(**{name: tf.constant(x)})["logits"].numpy()

        run.loaded = loaded  # keep the SavedModel alive with its function
        return Predictor("savedmodel", path, t, s, spec.dtype.name, int(classes), run)
    if path.endswith(".tflite"):
        from keras_gst.export.tflite import TFLiteModel

        model = TFLiteModel(path, num_threads=num_threads)
        _, t, h, w, _ = model.input_shape
        t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
        s = _pick("size", _square(h, w, path), size, DEFAULT_SIZE)
        classes = model.runner.get_output_details()["logits"]["shape"][-1]
        return Predictor("tflite", path, t, s, model.input_dtype, int(classes), lambda x: model(x)["logits"])
    if path.endswith(".keras") or preset:
        from keras_gst.export.rewrite import load_keras_model

        model = load_keras_model(path)
        _, t, h, w, _ = model.inputs[0].shape
        t = _pick("num_frames", t, num_frames, DEFAULT_NUM_FRAMES)
        s = _pick("size", _square(h, w, path) if h is not None else None, size, DEFAULT_SIZE)
        from keras_gst.export.frozen import frozen_function

        # one traced graph with the weights as constants (BatchNorm folded once), not eager layer calls
        forward = frozen_function(model, (None, t, s, s, 3))
        kind = "preset" if preset else "keras"
        return Predictor(kind, path, t, s, "float32", int(model.outputs[0].shape[-1]), lambda x: forward(x).numpy())
    raise ValueError(f"unknown model format {path}: expected a .keras file, a preset directory, a .tflite file or a "
                     f"SavedModel directory")


def softmax(logits):
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_labels(path, num_classes=None):
    """Class names, one per line (blank lines skipped); checks the count against the model's classes."""
    from keras_gst.data import read_label_map

    names = read_label_map(path)
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"{path} has {len(names)} names, the model has {num_classes} classes")
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
