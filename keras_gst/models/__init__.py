"""GST models (keras-hub style): `GSTBackbone` (a `Backbone`), `GSTVideoClassifier` (a `Task`) and its
preprocessor, the topology (`specs`), `load_model` for presets and `.keras` files (0.1 files included).

Layering: models import keras_gst.layers only (never weights, data, training, export or commands).
Names are imported on first use, so `keras_gst.models.specs` (argument checks) loads without TensorFlow."""

import importlib

_EXPORTS = {
    "keras_gst.models.gst_backbone": ("GSTBackbone",),
    "keras_gst.models.gst_resnet": ("GSTResNet", "load_model", "upgrade_legacy"),
    "keras_gst.models.gst_video_classifier": (
        "GSTVideoClassifier", "VideoClassifier", "feature_model", "per_frame_model", "rebuild",
    ),
    "keras_gst.models.gst_video_classifier_preprocessor": ("GSTVideoClassifierPreprocessor", "GSTVideoConverter"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_gst.models' has no attribute {name!r}")
