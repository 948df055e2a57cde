"""Parameter and multiply-accumulate (MAC) counts, as in the paper's Table 2."""

import keras


def count_params(model):
    """{"params": trainable parameters (what PyTorch counts), "params_total": all weights, including
    BatchNorm moving statistics (Keras' `count_params()`)}."""
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"params": trainable, "params_total": int(model.count_params())}


def count_macs(model, input_shape):
    """Multiply-accumulates of one clip of `input_shape` = (T, H, W, 3) through a `GSTVideoClassifier`:
    convolutions and the classifier, as the paper counts "FLOPs" (BatchNorm, ReLU, pooling excluded).

    The model is rebuilt from its config with that static input shape to read every layer's input shape.
    """
    from keras_gst.models import GSTVideoClassifier, rebuild

    if not isinstance(model, GSTVideoClassifier):
        raise TypeError(f"count_macs expects a keras_gst GSTVideoClassifier. Received: {type(model).__name__}")
    t, h, w, _ = input_shape
    static = rebuild(model, t, (h, w))
    total = sum(layer.macs(tuple(layer.input.shape[1:])) for layer in static.backbone.resnet.conv_layers())
    head = static.output_dense  # the per-frame classifier
    frames, features = head.input.shape[1:]
    return total + frames * features * head.units
