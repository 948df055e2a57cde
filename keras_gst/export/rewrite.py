"""Export-time model rewrite: static shapes and int8-capable temporal convolutions.

TFLite has no int8 kernel for CONV_3D (the converter leaves it float between QUANTIZE/DEQUANTIZE,
even with TFLITE_BUILTINS_INT8 only). `GSTResNet(temporal_impl="conv2d")` computes every temporal
3x3x3 convolution as the exactly equivalent sum of three per-frame Conv2Ds on time-shifted frames,
with the same weights, so rebuilding the model from its config with that option and copying the weights
gives a model TFLite quantizes completely.
"""

import keras

from keras_gst.models.gst_resnet import GSTResNet


def rewrite_for_export(model, num_frames=None, frame_size=None, temporal_impl="conv2d"):
    """A copy of a `GSTResNet` with fixed input shape and `temporal_impl`, sharing no state but equal weights.

    Args:
        model: a `GSTResNet` (any block type; "c2d" has no temporal convolution to rewrite).
        num_frames: T for the static input shape; None keeps the model's.
        frame_size: int or (H, W) for the static input shape; None keeps the model's.
        temporal_impl: "conv2d" (int8-capable, the default) or "conv3d".

    Returns a new `GSTResNet` computing the same function (up to float summation order).
    """
    if not isinstance(model, GSTResNet):
        raise TypeError(
            f"rewrite_for_export needs a keras_gst GSTResNet (got {type(model).__name__}); "
            "load .keras files with keras.saving.load_model after `import keras_gst`."
        )
    config = model.get_config()
    if num_frames is not None:
        config["num_frames"] = int(num_frames)
    if frame_size is not None:
        h, w = (frame_size, frame_size) if isinstance(frame_size, int) else tuple(frame_size)
        config["input_shape"] = (int(h), int(w), 3)
    config["temporal_impl"] = temporal_impl
    rewritten = GSTResNet.from_config(config)
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


def load_keras_model(path):
    """Load a .keras file (registers keras_gst's serializable classes first)."""
    import keras_gst  # noqa: F401  (registers the custom layers and GSTResNet)

    return keras.saving.load_model(path, compile=False)
