"""ImageNet initialisation of a `GSTBackbone` from a 2D keras-hub `ResNetBackbone`, mapped as the authors do.

keras-hub's plain ResNets (`resnet_{18,50,101}_imagenet`, timm `a1_in1k` weights) match our graph: stride
on the 3x3 convolution (ResNet v1.5), BatchNorm epsilon 1e-5, no conv biases, the same layer names
up to the suffix (keras-hub's `X_conv` / `X_bn` are our unit `X`'s `kernel` / `bn`; `conv1_*` is our `stem`). Mapping (docs/paper.md, "ImageNet initialisation"):

- stem, 1x1 convs, shortcut convs and their BatchNorms: copied (2D kernels become per-frame kernels);
- GST unit: the spatial kernel takes the 3x3 kernel sliced to its first (1-alpha)*filters output filters
  and its first beta*Cin input channels; the temporal kernel keeps its Kaiming init; the unit's BN takes
  the full ImageNet BN of that conv;
- C2D unit: the 3x3 kernel and BN copied;
- C3D unit (no authors' init exists): the 3x3 kernel inflated I3D-style (replicated over the 3 time
  taps, divided by 3), per channel group; BN copied;
- P3D unit: spatial kernel and its BN copied; temporal kernel Kaiming, output BN at its default init;
- the classifier is never loaded (new classes).

The layers are walked with the topology of `keras_gst.models.specs`; each unit applies its own rule
(`load_2d` of `keras_gst.layers.gst_block`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keras_gst.models.specs import RESNET_SPECS, STAGE_FILTERS, block_specs

if TYPE_CHECKING:
    import keras_hub

    from keras_gst.models import GSTBackbone, GSTVideoClassifier

PRESETS = {18: "resnet_18_imagenet", 50: "resnet_50_imagenet", 101: "resnet_101_imagenet"}


def load_imagenet(backbone: GSTBackbone, source: str | os.PathLike = "imagenet") -> None:
    """Initialise a `GSTBackbone` from a 2D keras-hub ImageNet ResNet of its depth: `source` is "imagenet"
    (the preset `resnet_{depth}_imagenet`), another keras-hub preset name, a kaggle:// / hf:// handle, or a
    local preset directory. Returns None (every weight the source defines is loaded).

    Example:

    ```python
    import keras_hub
    import numpy as np
    from keras_gst.models import GSTBackbone
    from keras_gst.weights.imagenet import load_imagenet

    resnet = keras_hub.models.ResNetBackbone(  # a plain 2D ResNet-18 (random here), saved as a local preset
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False)
    resnet.save_to_preset("resnet18")
    backbone = GSTBackbone(depth=18, num_frames=4, image_shape=(32, 32, 3))
    load_imagenet(backbone, "resnet18")  # "imagenet": keras-hub's resnet_18_imagenet, downloaded once
    print(np.allclose(backbone.get_layer("stem").kernel, resnet.get_layer("conv1_conv").kernel))  # True
    ```
    """
    import keras_hub

    preset = PRESETS.get(backbone.depth) if source == "imagenet" else os.fspath(source)
    if preset is None:
        raise ValueError(
            f"keras-hub has no plain ImageNet ResNet-{backbone.depth} preset (only resnet_vd_34, a different "
            f"network with a deep stem). Use torchvision's ImageNet ResNet-{backbone.depth} weights: "
            f"weights='resnet{backbone.depth}-....pth', or weights=None."
        )
    local = os.path.isdir(preset)
    try:
        resnet = keras_hub.models.ResNetBackbone.from_preset(preset)
    except Exception as error:  # network / Kaggle failures come in many exception types
        if local:
            raise ValueError(
                f"{preset} is not a keras-hub ResNetBackbone preset ({type(error).__name__}: {error}). Pass a "
                f"directory written by `ResNetBackbone.save_to_preset` or by `save_to_preset` of keras_gst."
            ) from error
        raise RuntimeError(
            f"Could not download the keras-hub preset {preset!r} for weights={source!r} ({type(error).__name__}: "
            f"{error}). This machine may be offline. Fix: on a machine with network, run "
            f"`keras_hub.models.ResNetBackbone.from_preset({preset!r}).save_to_preset('{os.path.basename(preset)}')` "
            f"and pass weights='<that directory>', or pass weights=None to train from scratch."
        ) from error
    return load_2d_resnet(backbone, resnet, source=preset)


def _check_compatible(model, backbone, source):
    block_type, stage_blocks = RESNET_SPECS[model.depth]
    expected = {
        "block_type": f"{block_type}_block",
        "stackwise_num_blocks": list(stage_blocks),
        "stackwise_num_filters": list(STAGE_FILTERS),
        "stackwise_num_strides": [1, 2, 2, 2],
        "input_conv_filters": [64],
        "input_conv_kernel_sizes": [7],
        "use_pre_activation": False,
    }
    config = backbone.get_config()
    wrong = {k: config.get(k) for k, v in expected.items() if _as_list(config.get(k)) != v}
    if wrong:
        raise ValueError(
            f"{source} is not a plain ResNet-{model.depth} matching this model: {wrong} differ from {expected}."
        )


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def load_2d_resnet(model: GSTBackbone | GSTVideoClassifier, backbone: keras_hub.models.ResNetBackbone,
                   source: str = "backbone") -> None:
    """Inflate a 2D keras-hub `ResNetBackbone` of the same depth into `model` (a `GSTBackbone`, or a
    `GSTVideoClassifier`'s backbone; see the module docstring). Every source tensor is read before any
    weight of `model` changes.

    Example:

    ```python
    import keras_hub
    import numpy as np
    import keras_gst
    from keras_gst.weights.imagenet import load_2d_resnet

    resnet = keras_hub.models.ResNetBackbone(  # a plain 2D ResNet-18 (random here)
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False)
    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    load_2d_resnet(model, resnet)
    print(np.allclose(model.get_layer("stem").kernel, resnet.get_layer("conv1_conv").kernel))  # True
    ```
    """
    model = model.backbone if hasattr(model, "backbone") else model
    _check_compatible(model, backbone, source)

    def weights(name):
        return backbone.get_layer(f"{name}_conv").get_weights()[0], backbone.get_layer(f"{name}_bn").get_weights()

    names = [("stem", "conv1")] + [(c.name, c.name) for spec in block_specs(model.depth) for c in spec.convs]
    loads = [(model.get_layer(ours), *weights(theirs)) for ours, theirs in names]
    for unit, kernel, bn in loads:
        unit.load_2d(kernel, bn)
    return None
