"""GST models (keras-hub style): `GSTBackbone` (a `Backbone`), `GSTVideoClassifier` (a `Task`) and its
preprocessor, the topology (`specs`), `load_model` for presets and `.keras` files (0.1 files included).

Layering: models import keras_gst.layers only (never weights, data, training, export or commands)."""

from keras_gst.models.gst_backbone import GSTBackbone
from keras_gst.models.gst_resnet import GSTResNet, load_model, upgrade_legacy
from keras_gst.models.gst_video_classifier import (
    GSTVideoClassifier,
    VideoClassifier,
    feature_model,
    per_frame_model,
    rebuild,
)
from keras_gst.models.gst_video_classifier_preprocessor import GSTVideoClassifierPreprocessor, GSTVideoConverter
