"""ONNX export through Keras' own `model.export(format="onnx")` (tf2onnx under the TensorFlow backend), run
with ONNX Runtime, and its parity report against the Keras model. Needs `pip install "keras-gst[onnx]"`.

The file takes one clip of normalised float32 frames, (1, T, H, W, 3), and returns the logits (1, classes):
batch 1, like the TFLite files. A dynamic batch is not exported because tf2onnx 1.17 folds the reshape of
the per-frame Dense (a `Tensordot` over (B, T, C)) to a wrong constant when the batch is open (ONNX Runtime
then refuses the file). ONNX is for interop (ONNX Runtime, OpenVINO); TensorFlow's frozen graph is the
faster runtime for this model on x86 CPUs (docs/performance.md).
"""

import importlib.util
import os

import numpy as np

from keras_gst.atomic import atomic_path
from keras_gst.errors import ParameterError

REQUIRED = ("tf2onnx", "onnxruntime")


def missing_packages():
    """The packages of the ONNX export that are not installed (no import: none needs TensorFlow to check)."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def check_onnx_installed(param="format"):
    missing = missing_packages()
    if missing:
        raise ParameterError(param, f"ONNX export needs {' and '.join(missing)}: pip install \"keras-gst[onnx]\"")


def export_onnx(model, path, shape):
    """Write `model` (a `GSTVideoClassifier` taking (1, T, H, W, 3) float32 frames, `shape` = (T, H, W)) as an
    ONNX file at `path`, atomically (a failed export leaves a previous file intact). Returns `path`."""
    import tensorflow as tf

    check_onnx_installed()
    spec = tf.TensorSpec((1,) + tuple(shape) + (3,), tf.float32, name="frames")
    with atomic_path(path) as tmp:
        model.export(tmp, format="onnx", input_signature=[spec], verbose=False)
    return path


class ONNXModel:
    """An ONNX classifier file run with ONNX Runtime's CPU provider (`num_threads` intra-op threads).
    Call with normalised float32 clips (N, T, H, W, 3): returns the logits (N, classes), one clip per run."""

    def __init__(self, path, num_threads=2):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, frames):
        frames = np.asarray(frames, np.float32)
        return np.concatenate([self.session.run(None, {self.input_name: frames[i : i + 1]})[0]
                               for i in range(len(frames))])


def onnx_parity(model, path, clips, thresholds, num_threads=2):
    """Parity report (a dict like `tflite_parity`'s) of the ONNX file at `path` against the Keras `model` on
    real pixel `clips`; `thresholds` = (max |logit diff| / max |Keras logit|, min top-1 agreement)."""
    from keras_gst.export.clips import normalize_clip
    from keras_gst.export.savedmodel import compare_logits, keras_logits

    max_rel, min_top1 = thresholds
    candidate = ONNXModel(path, num_threads)(normalize_clip(clips))
    report = compare_logits(keras_logits(model, clips), candidate)
    report.update(format="onnx", quantize="float32", size_mb=os.path.getsize(path) / 1e6,
                  max_rel_diff_allowed=max_rel, min_top1_agreement=min_top1,
                  passed=report["rel_diff"] <= max_rel and report["top1_agreement"] >= min_top1)
    return report
