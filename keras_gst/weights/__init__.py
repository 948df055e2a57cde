"""Weight sources for keras_gst models: ImageNet 2D ResNets (keras-hub, torchvision), our own saved models
and presets, the authors' PyTorch checkpoints.

Layering: weights import keras_gst.models and keras_gst.layers (never training, export or commands); the
models never import weights. `load_weights(model, weights)` fills a built `GSTVideoClassifier` or
`GSTBackbone`; building a model never loads anything.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import TYPE_CHECKING

from keras_gst.weights.imagenet import PRESETS as IMAGENET_PRESETS
from keras_gst.weights.imagenet import load_2d_resnet, load_imagenet

if TYPE_CHECKING:
    import keras

    from keras_gst.models import GSTBackbone, GSTVideoClassifier
    from keras_gst.weights.torch_convert import ConversionReport

WEIGHT_FILE_SUFFIXES = (".keras", ".weights.h5", ".pth", ".pt", ".pth.tar")
WEIGHTS_HELP = (
    "Pass 'imagenet', None, a keras-hub preset (directory, kaggle:// or hf:// handle, or a keras-hub ResNet preset "
    "name), a .keras / .weights.h5 file, or a PyTorch .pth checkpoint."
)


def check_weights(weights: str | os.PathLike | None, depth: int) -> str | None:
    """Validate a `weights` argument for a ResNet-`depth` before anything is built; returns its kind:
    None, "imagenet", "handle" (kaggle://, hf://, a keras-hub preset name), "preset" (a directory),
    "keras", "weights_h5" or "torch".

    Example:

    ```python
    from keras_gst.weights import check_weights

    print(check_weights("imagenet", 50), check_weights(None, 18))  # imagenet None
    try:
        check_weights("imagenet", 34)  # keras-hub has no plain ImageNet ResNet-34
    except ValueError:
        print("refused")  # refused
    ```
    """
    if weights is None:
        return None
    if weights == "imagenet":
        if depth not in IMAGENET_PRESETS:
            raise ValueError(
                f"weights='imagenet': keras-hub has no plain ImageNet ResNet-{depth} preset (only resnet_vd_34, a "
                f"different network with a deep stem). Use torchvision's ImageNet ResNet-{depth} weights, exactly "
                f"the authors' initialisation: weights='resnet{depth}-....pth' (needs `pip install "
                f"\"keras-gst[torch]\"`), or weights=None."
            )
        return "imagenet"
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights={weights!r}: unknown kind. {WEIGHTS_HELP}")
    path = os.fspath(weights)
    if "://" in path or _is_keras_hub_preset_name(path):
        return "handle"
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights={weights!r}: no such file or directory. {WEIGHTS_HELP}")
    if os.path.isdir(path):
        return "preset"
    if path.endswith(".weights.h5"):
        return "weights_h5"
    if path.endswith(".keras"):
        return "keras"
    if path.endswith((".pth", ".pt", ".pth.tar")):
        return "torch"
    raise ValueError(f"weights={weights!r}: unknown format. {WEIGHTS_HELP}")


def _is_keras_hub_preset_name(name):
    if os.sep in name or "." in name:
        return False
    import keras_hub

    return name in keras_hub.models.ResNetBackbone.presets


def _parts(model):
    """(backbone, classifier or None) of a GSTVideoClassifier or a GSTBackbone."""
    from keras_gst.models import GSTBackbone, GSTVideoClassifier

    if isinstance(model, GSTVideoClassifier):
        return model.backbone, model
    if isinstance(model, GSTBackbone):
        return model, None
    raise TypeError(f"Expected a keras_gst GSTVideoClassifier or GSTBackbone. Received: {type(model).__name__}")


def load_weights(model: GSTVideoClassifier | GSTBackbone,
                 weights: str | os.PathLike | None) -> LoadReport | ConversionReport | None:
    """Fill `model` (a `GSTVideoClassifier` or `GSTBackbone`) from `weights`:

    - "imagenet": the keras-hub preset `resnet_{depth}_imagenet` (needs the network once, or a local
      Kaggle cache); ResNet-34 has no plain keras-hub preset: use torchvision's resnet34 .pth.
    - a keras-hub ResNet preset name, a kaggle:// / hf:// handle, or a directory holding a keras-hub
      ResNet preset: inflated as ImageNet init (`keras_gst.weights.imagenet`).
    - a directory holding a keras_gst preset (`save_to_preset`, `keras-gst convert-torch --out DIR`): its
      weights are copied (with another class count the head is re-initialised and reported).
    - `*.keras`: a saved keras-hub `ResNetBackbone` (inflated) or a saved keras_gst model (copied; 0.1
      `GSTResNet` files too).
    - `*.weights.h5`: weights saved by `save_weights` of the very same architecture.
    - `*.pth` / `*.pt` / `*.pth.tar`: a PyTorch checkpoint (the authors' GST or torchvision ResNet), see
      `keras_gst.weights.torch_convert`; the authors' classifier is loaded only when its class count equals
      the model's.

    Returns a report of what was loaded and skipped (`LoadReport`, or the converter's `ConversionReport`),
    or None for ImageNet / .weights.h5 sources, which load every weight they define. On any error the model
    is left unchanged.

    Example:

    ```python
    import keras_gst
    from keras_gst.weights import load_weights

    keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("m.keras")
    model = keras_gst.GSTResNet18(num_classes=5, weights=None, num_frames=4, input_shape=(32, 32, 3))
    report = load_weights(model, "m.keras")  # another class count: the head is re-initialised (and warned about)
    print([name for name, _ in report.skipped])  # ['frame_logits']
    ```
    """
    backbone, classifier = _parts(model)
    kind = check_weights(weights, backbone.depth)
    if kind is None:
        return None
    if kind == "imagenet":
        return load_imagenet(backbone)
    if kind == "handle":
        return load_imagenet(backbone, weights)
    path = os.fspath(weights)
    if kind == "preset":
        return _load_preset(model, path)
    if kind == "weights_h5":
        return _load_weights_h5(model, path)
    if kind == "keras":
        import keras

        from keras_gst.models import GSTBackbone, GSTResNet, GSTVideoClassifier, upgrade_legacy

        source = keras.saving.load_model(path, compile=False)
        if isinstance(source, GSTResNet):
            source = upgrade_legacy(source)
        if isinstance(source, (GSTVideoClassifier, GSTBackbone)):
            return copy_weights(source, model, source_name=path)
        return load_2d_resnet(backbone, source, source=path)
    from keras_gst.weights.torch_convert import describe_state, load_torch_weights, read_checkpoint

    state, meta = read_checkpoint(path)
    classes = describe_state(state, meta).get("num_classes")
    # another class count (fine-tuning): keep every backbone tensor, re-initialise the head (reported)
    include_head = classifier is not None and classes == classifier.num_classes
    return load_torch_weights(model, {**meta, "state_dict": state}, include_head=include_head)


def _load_preset(model, path):
    import json

    import keras

    from keras_gst.models import GSTBackbone, GSTVideoClassifier
    from keras_gst.models.gst_backbone import check_local_preset

    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"weights={path!r}: {config_path} is missing, so this is no keras-hub preset. {WEIGHTS_HELP}")
    with open(config_path, encoding="utf-8") as f:
        name = json.load(f).get("registered_name")
    if name == "keras_gst>GSTBackbone":
        check_local_preset(path)
        if os.path.isfile(os.path.join(path, "task.json")) and _parts(model)[1] is not None:
            source = GSTVideoClassifier.from_preset(path)
        else:
            source = GSTBackbone.from_preset(path)
        return copy_weights(source, model, source_name=path)
    if name is not None and name not in ("Functional", "Sequential") and keras.saving.get_registered_object(name) is None:
        raise ValueError(f"weights={path!r}: {config_path} describes a {name} model, a class not registered with Keras: "
                         f"import the package that defines it before loading. {WEIGHTS_HELP}")
    return load_imagenet(_parts(model)[0], path)


def _load_weights_h5(model, path):
    """`model.load_weights(path)` through a clone, so a mismatching file leaves `model` unchanged."""
    clone = type(model).from_config(model.get_config())
    try:
        clone.load_weights(path)
    except ValueError as error:
        raise ValueError(
            f"{path} does not fit {model.name} ({error}). A .weights.h5 file needs the very same architecture "
            f"and class count; to fine-tune on other classes, load the saved .keras model or preset instead."
        ) from error
    model.set_weights(clone.get_weights())
    return None


HEAD_LAYERS = ("frame_logits",)


@dataclasses.dataclass
class LoadReport:
    """What loading a keras_gst model's weights into another did: every layer is loaded or listed as skipped.

    Example:

    ```python
    from keras_gst.weights import LoadReport

    report = LoadReport("m.keras", ["stem", "frame_logits"], [])
    print(report)  # loaded 2 layers from m.keras
    ```
    """

    source: str
    loaded: list  # layer names whose weights were copied
    skipped: list  # (layer name, reason): only the classifier head may be skipped

    def __str__(self):
        lines = [f"loaded {len(self.loaded)} layers from {self.source}"]
        lines += [f"skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


def weight_layers(model: GSTVideoClassifier | GSTBackbone) -> dict[str, keras.layers.Layer]:
    """{layer name: layer} of every layer holding weights, the backbone's layers and the head's.

    Example:

    ```python
    import keras_gst
    from keras_gst.weights import weight_layers

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    layers = weight_layers(model)  # the stem, 8 blocks x 2 units, 3 shortcuts, the classifier
    print(len(layers), list(layers)[0], list(layers)[-1])  # 21 stem frame_logits
    ```
    """
    backbone, classifier = _parts(model)
    layers = {layer.name: layer for layer in backbone.layers if layer.weights}
    if classifier is not None:
        layers.update({layer.name: layer for layer in classifier.layers if layer.weights and layer is not backbone})
    return layers


def copy_weights(source: GSTVideoClassifier | GSTBackbone, target: GSTVideoClassifier | GSTBackbone,
                 source_name: str = "source model") -> LoadReport:
    """Copy every weight of `source` into `target` (each a `GSTVideoClassifier` or `GSTBackbone`) by layer
    name; returns a `LoadReport`.

    The classifier head (`frame_logits`) is re-initialised, and reported, when its shape differs (another
    number of classes) or the source has none. Any other missing, unexpected or shape-mismatched layer is
    a ValueError naming every such layer; the target is unchanged then.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.weights import copy_weights

    source = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    target = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    report = copy_weights(source, target)
    x = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3)).astype("float32")
    print(report.skipped, np.allclose(source(x), target(x)))  # [] True
    ```
    """
    src_layers, dst_layers = weight_layers(source), weight_layers(target)
    problems, skipped, pairs = [], [], []
    for name in src_layers:
        if name not in dst_layers and name not in HEAD_LAYERS:
            problems.append(f"{name}: in {source_name} but not in this model (unexpected)")
    for name, layer in dst_layers.items():
        src = src_layers.get(name)
        if src is None:
            if name in HEAD_LAYERS:
                skipped.append((name, f"no classifier in {source_name}: re-initialised"))
            else:
                problems.append(f"{name}: missing in {source_name}")
            continue
        src_shapes = [tuple(w.shape) for w in src.weights]
        dst_shapes = [tuple(w.shape) for w in layer.weights]
        if src_shapes == dst_shapes:
            pairs.append((src, layer))
        elif name in HEAD_LAYERS:
            skipped.append((name, f"shape {src_shapes} in {source_name} vs {dst_shapes} here: re-initialised"))
        else:
            problems.append(f"{name}: shapes {src_shapes} in {source_name} vs {dst_shapes} here")
    if problems:
        raise ValueError(f"Cannot load weights from {source_name}:\n  " + "\n  ".join(problems))
    for src, layer in pairs:
        layer.set_weights(src.get_weights())
    report = LoadReport(str(source_name), [layer.name for _, layer in pairs], skipped)
    if skipped:
        warnings.warn(str(report), stacklevel=3)
    return report
