"""keras-gst: Grouped Spatial-Temporal aggregation (Luo & Yuille, ICCV 2019) for Keras 3."""

__version__ = "0.1.0"

from keras_gst.analysis import count_macs, count_params
from keras_gst.layers import C2DBlock, C3DBlock, FrameConvBN, GSTBlock, P3DBlock
from keras_gst.models import (
    GSTResNet,
    GSTResNet18,
    GSTResNet34,
    GSTResNet50,
    GSTResNet101,
    feature_model,
    per_frame_model,
)

# Registers the training optimiser (GSTSGD) with Keras, so models saved by `keras_gst.training.fit`
# (which include their optimizer) load after a plain `import keras_gst`.
import keras_gst.training.optim  # noqa: E402,F401
