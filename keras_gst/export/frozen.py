"""TF inference with the weights frozen into the graph, the TensorFlow counterpart of `torch.compile`'s freezing.

A Keras model reads its weights from variables on every call, so the BatchNorm folding of each
convolution (kernel * gamma / sqrt(var + eps), see keras_gst.layers.gst_block) runs per call: one pass
over all 21M weights of GST-R50, about 3 % of a batch-1 clip on 2 cores. `frozen_function` traces the
model once, turns the variables into constants and lets TF's graph optimiser fold those products once,
so each call runs only the fused convolutions. The weights are a snapshot: freeze again after training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
from numpy.typing import ArrayLike

from keras_gst.private_api import variables_to_constants


def frozen_function(model: keras.Model, input_shape: Sequence[int | None]) -> Callable[[ArrayLike], tf.Tensor]:
    """A callable `(B, T, H, W, 3) float32 -> logits` computing `model(x, training=False)` with the current
    weights as constants. `input_shape` is (B, T, H, W, 3); None entries stay dynamic (e.g. any batch).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import frozen_function

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    fast = frozen_function(model, (None, 4, 32, 32, 3))  # any batch size
    x = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    print(np.allclose(fast(x), model(x, training=False), atol=1e-4))  # True
    ```
    """
    spec = tf.TensorSpec(tuple(input_shape), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = variables_to_constants(concrete)

    def call(x):
        (logits,) = frozen(tf.convert_to_tensor(x, tf.float32))
        return logits

    call.concrete_function = frozen  # the frozen graph, for inspection
    return call
