"""Preprocessing for `GSTVideoClassifier`: pixel clips -> the model's frame size, ImageNet-normalised.

`GSTVideoConverter` is keras-hub's `VideoConverter` (per-frame resize, scale, offset; saved in presets
as video_converter.json) with GST's defaults: 224x224 frames, `(x / 255 - mean) / std` with ImageNet's
`IMAGENET_MEAN` (0.485, 0.456, 0.406) and `IMAGENET_STD` (0.229, 0.224, 0.225) below. Input: (B, T, H, W, 3) RGB pixels in
[0, 255], uint8 or float. Resizing crops each frame to the target aspect ratio around its centre and
resizes (bilinear): for square frames that is "short side to the crop size, centre crop". The paper's
test protocol (short side 256, centre crop 224) is `keras_gst.data.build_dataset(training=False)`, whose
clips are already normalised: run those through the bare network (`classifier(x)`) or set
`classifier.preprocessor = None`.

This module is keras_gst's one normalisation: `IMAGENET_MEAN` / `IMAGENET_STD` are defined here only, and
`normalize_clips` (the converter's scale and offset without its resize) is what the tf.data pipeline,
predict / eval and the uint8 export signature call.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

import keras
from keras_hub.layers import VideoConverter
from keras_hub.models import Preprocessor

from keras_gst.models.gst_backbone import GSTBackbone
from keras_gst.private_api import MissingVideoConverter, preprocessing_function

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_SCALE = [1.0 / (255.0 * s) for s in IMAGENET_STD]
IMAGENET_OFFSET = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
DEFAULT_SIZE = 224


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTVideoConverter(VideoConverter):
    """keras-hub `VideoConverter` with GST's defaults (224x224, ImageNet normalisation of [0, 255] pixels).

    Example:

    ```python
    import numpy as np
    from keras_gst.models import GSTVideoConverter

    converter = GSTVideoConverter(image_size=(32, 32))
    x = np.asarray(converter(np.full((1, 4, 64, 48, 3), 255, "uint8")))  # white frames
    print(x.shape, [round(float(v), 3) for v in x[0, 0, 0, 0]])  # (1, 4, 32, 32, 3) [2.249, 2.429, 2.64]
    ```
    """

    backbone_cls = GSTBackbone

    def __init__(self, image_size: Sequence[int] | None = (DEFAULT_SIZE, DEFAULT_SIZE),
                 scale: float | Sequence[float] | None = IMAGENET_SCALE,
                 offset: float | Sequence[float] | None = IMAGENET_OFFSET, **kwargs):
        super().__init__(image_size=tuple(image_size) if image_size is not None else None, scale=scale,
                         offset=offset, **kwargs)

    def call(self, inputs):
        tf = sys.modules.get("tensorflow")
        if tf is None or not tf.inside_function():
            return super().call(inputs)
        # A tf.data map (or tf.function), on any backend: keras-hub 0.32's VideoConverter multiplies the batch
        # and frame dimensions with `keras.ops.shape`, whose batch dimension is None there on JAX and torch.
        shape = tf.shape(inputs)
        frames = self.image_converter(tf.reshape(inputs, tf.concat([[-1], shape[2:]], 0)))
        return tf.reshape(frames, tf.concat([shape[:2], tf.shape(frames)[1:]], 0))


@functools.cache
def _normalizer():
    return GSTVideoConverter(image_size=None, dtype="float32", name="normalize_clips")


def normalize_clips(clips):
    """(B, T, H, W, 3) RGB pixels in [0, 255] (uint8 or float, a tensor or NumPy array) -> float32
    `(x / 255 - IMAGENET_MEAN) / IMAGENET_STD`, the same size: `GSTVideoConverter`'s normalisation without
    its resize. Works eagerly on any backend and inside `tf.data` / `tf.function`; returns a backend tensor
    (a TensorFlow tensor inside TensorFlow graphs).

    Example:

    ```python
    import numpy as np
    from keras_gst.models.gst_video_classifier_preprocessor import normalize_clips

    x = normalize_clips(np.full((1, 4, 32, 32, 3), 255, np.uint8))  # (1, 4, 32, 32, 3) float32
    ```
    """
    return _normalizer()(clips)


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTVideoClassifierPreprocessor(MissingVideoConverter, Preprocessor):
    """keras-hub `Preprocessor` of `GSTVideoClassifier`: applies its `video_converter` to x, passes y and
    sample_weight through (so `classifier.fit(uint8_clips, labels)` and `.predict(uint8_clips)` work).
    `from_preset` on a backbone-only preset (no video_converter.json) uses `default_video_converter`.

    Example:

    ```python
    import numpy as np
    from keras_gst.models import GSTVideoClassifierPreprocessor, GSTVideoConverter

    preprocessor = GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(32, 32)))
    x, y = preprocessor(np.zeros((2, 4, 64, 64, 3), "uint8"), np.array([0, 1]))
    print(tuple(x.shape), np.asarray(y).tolist())  # (2, 4, 32, 32, 3) [0, 1]
    ```
    """

    backbone_cls = GSTBackbone
    video_converter_cls = GSTVideoConverter

    def __init__(self, video_converter: GSTVideoConverter | None = None, **kwargs):
        super().__init__(**kwargs)
        self.video_converter = video_converter

    @classmethod
    def for_image_shape(cls, image_shape=None):
        """GST's preprocessor for frames of `image_shape` (a `GSTBackbone`'s (H, W, 3); 224 x 224 where it is
        None or has None sides): what a classifier gets from a preset without video_converter.json and what
        the `keras_gst.GSTResNet50`, ... factories attach.

        Example:

        ```python
        from keras_gst.models import GSTVideoClassifierPreprocessor

        preprocessor = GSTVideoClassifierPreprocessor.for_image_shape((112, 112, 3))  # pixels -> 112 x 112, normalised
        ```
        """
        h, w = tuple(image_shape or (None, None, 3))[:2]
        return cls(GSTVideoConverter(image_size=(h or DEFAULT_SIZE, w or DEFAULT_SIZE)))

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if self.video_converter is not None:
            x = self.video_converter(x)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    @classmethod
    def default_video_converter(cls, backbone_config: dict) -> GSTVideoConverter:
        """GST's default converter at the frame size of the backbone whose serialized config (a preset's
        config.json) is `backbone_config`; 224x224 where the backbone takes any size.

        Example:

        ```python
        converter = GSTVideoClassifierPreprocessor.default_video_converter(
            {"config": {"image_shape": [112, 112, 3]}})
        assert converter.image_size == (112, 112)
        ```
        """
        return cls.for_image_shape(backbone_config.get("config", {}).get("image_shape")).video_converter
