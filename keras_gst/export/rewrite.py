"""Export-time model rewrite: static shapes and int8-capable temporal convolutions.

TFLite has no int8 kernel for CONV_3D (the converter leaves it float between QUANTIZE/DEQUANTIZE,
even with TFLITE_BUILTINS_INT8 only). `GSTBackbone(temporal_impl="conv2d")` computes every temporal
3x3x3 convolution as the exactly equivalent sum of three per-frame Conv2Ds on time-shifted frames,
with the same weights, so rebuilding the model from its config with that option and copying the weights
gives a model TFLite quantizes completely.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from keras_gst.models import GSTVideoClassifier, rebuild


def rewrite_for_export(model: GSTVideoClassifier, num_frames: int | None = None,
                       frame_size: int | Sequence[int] | None = None, temporal_impl: str = "conv2d") -> GSTVideoClassifier:
    """A copy of a `GSTVideoClassifier` with fixed input shape and `temporal_impl`, sharing no state but equal
    weights (and no preprocessor: exports take normalised frames, or uint8 with their own normalisation).

    Args:
        model: a `GSTVideoClassifier` (any block type; "c2d" has no temporal convolution to rewrite).
        num_frames: T for the static input shape; None keeps the model's.
        frame_size: int or (H, W) for the static input shape; None keeps the model's.
        temporal_impl: "conv2d" (int8-capable, the default) or "conv3d".

    Returns a new `GSTVideoClassifier` computing the same function (up to float summation order).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import rewrite_for_export

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3))  # any number of frames
    static = rewrite_for_export(model, num_frames=4)
    x = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3)).astype("float32")
    print(static.input_shape, static.temporal_impl)  # (None, 4, 32, 32, 3) conv2d
    print(np.allclose(model(x), static(x), atol=1e-4))  # True
    ```
    """
    if not isinstance(model, GSTVideoClassifier):
        raise TypeError(
            f"rewrite_for_export needs a keras_gst GSTVideoClassifier (got {type(model).__name__}); "
            "load .keras files and presets with keras_gst.load_model."
        )
    rewritten = rebuild(model, num_frames, frame_size, temporal_impl=temporal_impl)
    weights = model.get_weights()
    if len(weights) != len(rewritten.weights):
        raise ValueError(
            f"rewritten model has {len(rewritten.weights)} weights, the original {len(weights)}: "
            "the config does not describe the model"
        )
    rewritten.set_weights(weights)
    return rewritten


def static_input_shape(model, num_frames=None, frame_size=None):
    """(T, H, W) of `model`'s input, `num_frames`/`frame_size` overriding; entries may be None."""
    _, t, h, w, _ = model.inputs[0].shape
    if num_frames is not None:
        t = int(num_frames)
    if frame_size is not None:
        h, w = (frame_size, frame_size) if isinstance(frame_size, int) else tuple(frame_size)
    return t, h, w


def load_keras_model(path: str | os.PathLike) -> GSTVideoClassifier:
    """A `GSTVideoClassifier` from a .keras file (0.1 `GSTResNet` files upgraded) or a preset directory,
    without its preprocessor (exports and parity reports feed normalised clips).

    Example:

    ```python
    import keras_gst
    from keras_gst.export import load_keras_model

    keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("m.keras")
    model = load_keras_model("m.keras")
    print(type(model).__name__, model.preprocessor)  # GSTVideoClassifier None
    ```
    """
    from keras_gst.models import load_model

    return load_model(path, compile=False, preprocessor=False)
