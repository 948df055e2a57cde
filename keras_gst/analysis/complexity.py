"""Parameter and multiply-accumulate (MAC) counts, as in the paper's Table 2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from keras_gst.models import GSTVideoClassifier


def count_params(model: keras.Model) -> dict[str, int]:
    """{"params": trainable parameters (what PyTorch counts), "params_total": all weights, including
    BatchNorm moving statistics (Keras' `count_params()`)}.

    Example:

    ```python
    import keras_gst

    # the C2D baseline is a per-frame 2D ResNet: torchvision's ResNet-18 (11,689,512 with its 1000-class head)
    model = keras_gst.GSTResNet18(num_classes=2, weights=None, block="c2d", num_frames=4, input_shape=(32, 32, 3))
    print(keras_gst.count_params(model)["params"])  # 11177538
    ```
    """
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"params": trainable, "params_total": int(model.count_params())}


def count_macs(model: GSTVideoClassifier, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one clip of `input_shape` = (T, H, W, 3) through a `GSTVideoClassifier`:
    convolutions and the classifier, as the paper counts "FLOPs" (BatchNorm, ReLU, pooling excluded).

    The model is rebuilt from its config with that static input shape to read every layer's input shape.

    Example:

    ```python
    import keras_gst

    # one frame through the C2D baseline: torchvision's ResNet-18 (1,813,561,344 MACs at 224 x 224) + a 2-class head
    model = keras_gst.GSTResNet18(num_classes=2, weights=None, block="c2d", input_shape=(32, 32, 3))
    print(keras_gst.count_macs(model, (1, 224, 224, 3)))  # 1813562368
    ```
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
