"""`GSTResNet18/34/50/101(num_classes, weights=...)`: build a `GSTVideoClassifier`, then load `weights`.

The one-line constructors, like `keras.applications`: `keras_gst.GSTResNet50(num_classes=174)` is a
GST-ResNet-50 (alpha 1/4, beta 1/2) initialised from keras-hub's ImageNet ResNet-50, as the paper trains
it. `weights` is validated before anything is built; the returned model carries `load_report` (what was
loaded and skipped, see `keras_gst.weights.load_weights`) and the preprocessor a preset gives
(`GSTVideoClassifierPreprocessor.for_image_shape`): `model.predict(uint8_clips)` resizes and normalises
like a model loaded from a preset, and `model(x)` runs the bare network on normalised frames.

Layering: applications import models and weights.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keras_gst.models import GSTBackbone, GSTVideoClassifier, GSTVideoClassifierPreprocessor
from keras_gst.weights import IMAGENET_PRESETS, check_weights, load_weights

if TYPE_CHECKING:
    import keras


def build_classifier(depth, num_classes, weights=None, alpha=0.25, beta=0.5, num_frames=None, input_shape=None,
                     dropout=0.3, block="gst", groups=1, dtype=None, temporal_impl="conv3d", causal=False,
                     name=None, preprocessor=True):
    """A `GSTVideoClassifier` of ResNet-`depth` with `weights` loaded (see `keras_gst.weights.load_weights`) and
    GST's preprocessor at its frame size; `preprocessor=False` leaves it off (as `keras_gst.models.load_model`),
    for callers that feed normalised clips to `fit` / `predict` (the training loop on `keras_gst.data`'s pipeline)."""
    check_weights(weights, depth)
    name = name or f"{block}_resnet{depth}"
    backbone = GSTBackbone(depth=depth, block=block, alpha=alpha, beta=beta, groups=groups, num_frames=num_frames,
                           image_shape=input_shape, temporal_impl=temporal_impl, causal=causal, dtype=dtype,
                           name=f"{name}_backbone")
    preprocessor = GSTVideoClassifierPreprocessor.for_image_shape(backbone.image_shape) if preprocessor else None
    model = GSTVideoClassifier(backbone, num_classes, preprocessor=preprocessor, dropout=dropout, name=name)
    model.load_report = load_weights(model, weights) if weights is not None else None
    return model


def _factory(depth):
    default = "imagenet" if depth in IMAGENET_PRESETS else None

    def build(num_classes: int, weights: str | os.PathLike | None = default, alpha: float = 0.25, beta: float = 0.5,
              num_frames: int | None = None, input_shape: tuple[int, int, int] | None = None, dropout: float = 0.3,
              block: str = "gst", groups: int = 1, dtype: str | keras.DTypePolicy | None = None,
              temporal_impl: str = "conv3d", causal: bool = False, name: str | None = None) -> GSTVideoClassifier:
        return build_classifier(depth, num_classes, weights, alpha, beta, num_frames, input_shape, dropout, block,
                                groups, dtype, temporal_impl, causal, name)

    build.__name__ = build.__qualname__ = f"GSTResNet{depth}"
    if default:
        source = (f"`weights`: 'imagenet' (default: keras-hub's `{IMAGENET_PRESETS[depth]}`, downloaded once), None "
                  f"(random init)")
    else:
        source = ("`weights`: None (default: random init; keras-hub has no plain ImageNet ResNet-34, so the "
                  "authors' kind of ImageNet init is torchvision's file: weights='resnet34-333f7ec4.pth')")
    build.__doc__ = (
        f"GST-ResNet-{depth} video classifier, a `keras_gst.GSTVideoClassifier`. {source}, or a keras-hub preset "
        f"(directory or handle), a .keras / .weights.h5 file, a PyTorch .pth checkpoint. `dtype`: a Keras dtype "
        f"policy such as 'mixed_bfloat16'. Other arguments: see `GSTBackbone` and `GSTVideoClassifier`.\n\n"
        f"Example:\n\n"
        f"```python\n"
        f"import keras_gst\n\n"
        f"model = keras_gst.GSTResNet{depth}(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))\n"
        f"print(model.input_shape, model.output_shape)  # (None, 4, 32, 32, 3) (None, 2)\n"
        f"print(type(model.preprocessor).__name__)  # GSTVideoClassifierPreprocessor\n"
        f"```\n"
    )
    return build


GSTResNet18 = _factory(18)
GSTResNet34 = _factory(34)
GSTResNet50 = _factory(50)
GSTResNet101 = _factory(101)
