"""GST models (keras-hub style): `GSTBackbone` (a `Backbone`), `GSTVideoClassifier` (a `Task`) and its
preprocessor, the topology (`specs`), `load_model` for presets and `.keras` files (0.1 files included).

Layering: models import keras_gst.layers only (never weights, data, training, export or commands).
Names are imported on first use, so `keras_gst.models.specs` (argument checks) loads without TensorFlow."""

from keras_gst.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "keras_gst.models.gst_backbone": ("GSTBackbone",),
    "keras_gst.models.gst_resnet": ("GSTResNet", "load_model", "upgrade_legacy"),
    "keras_gst.models.gst_video_classifier": (
        "GSTVideoClassifier", "VideoClassifier", "feature_model", "per_frame_model", "rebuild",
    ),
    "keras_gst.models.gst_video_classifier_preprocessor": ("GSTVideoClassifierPreprocessor", "GSTVideoConverter"),
})
