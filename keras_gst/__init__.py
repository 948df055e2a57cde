"""keras-gst: Grouped Spatial-Temporal aggregation (Luo & Yuille, ICCV 2019) for Keras 3.

`import keras_gst` registers every keras_gst class with Keras (layers, `GSTBackbone`,
`GSTVideoClassifier` and its preprocessor, the 0.1 `GSTResNet`, the `GSTSGD` optimiser), so
`keras.saving.load_model("m.keras")` and `keras_hub.models.Backbone.from_preset(dir)` find them.
Package layering: docs/architecture.md.
"""

__version__ = "0.1.0"

from keras_gst.analysis import count_macs, count_params
from keras_gst.applications import GSTResNet18, GSTResNet34, GSTResNet50, GSTResNet101
from keras_gst.layers import C2DBlock, C3DBlock, FrameConvBN, GSTBlock, P3DBlock
from keras_gst.models import (
    GSTBackbone,
    GSTResNet,
    GSTVideoClassifier,
    GSTVideoClassifierPreprocessor,
    GSTVideoConverter,
    feature_model,
    load_model,
    per_frame_model,
)

# Registers the training optimiser (GSTSGD) with Keras, so models saved by `keras_gst.training.fit`
# (which include their optimizer) load after a plain `import keras_gst`.
import keras_gst.training.optim  # noqa: E402,F401
