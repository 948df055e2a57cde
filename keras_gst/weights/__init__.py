"""Weight sources for keras_gst models: ImageNet 2D ResNets (keras-hub), our own saved models, PyTorch."""

import dataclasses
import os
import warnings

from keras_gst.weights.imagenet import load_2d_resnet, load_imagenet


def load_weights(model, weights):
    """Fill `model` (a `GSTResNet`) from `weights`:

    - "imagenet": the keras-hub preset `resnet_{depth}_imagenet` (needs the network once, or a local
      Kaggle cache); ResNet-34 has no plain keras-hub preset: use torchvision's resnet34 .pth.
    - a directory: a keras-hub ResNet preset saved with `save_to_preset` (config.json + model.weights.h5).
    - `*.keras`: a saved keras-hub `ResNetBackbone` (inflated as ImageNet init) or a saved keras_gst model
      (with another class count, its head is re-initialised and reported: see `copy_weights`).
    - `*.weights.h5`: weights saved by `model.save_weights` of the same architecture.
    - `*.pth` / `*.pt` / `*.pth.tar` (the authors' main.py names): a PyTorch checkpoint (the authors' GST
      or torchvision ResNet), see `keras_gst.weights.torch_convert`; the authors' classifier is loaded
      only when its class count equals the model's.

    Returns a report of what was loaded and skipped (`LoadReport`, or the converter's `ConversionReport`),
    or None for ImageNet / preset / .weights.h5 sources, which load every weight they define.
    """
    if weights == "imagenet":
        return load_imagenet(model)
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"weights={weights!r}: no such file or directory. Pass 'imagenet', None, or a path to a keras-hub "
            f"preset directory, a .keras / .weights.h5 file, or a PyTorch .pth checkpoint."
        )
    if os.path.isdir(path):
        import keras_hub

        return load_2d_resnet(model, keras_hub.models.ResNetBackbone.from_preset(path), source=path)
    if path.endswith(".weights.h5"):
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ValueError(
                f"{path} does not fit {model.name} ({error}). A .weights.h5 file needs the very same architecture "
                f"and class count; to fine-tune on other classes, load the saved .keras model instead."
            ) from error
        return None
    if path.endswith(".keras"):
        import keras

        source = keras.saving.load_model(path, compile=False)
        from keras_gst.models.gst_resnet import GSTResNet

        if isinstance(source, GSTResNet):
            return copy_weights(source, model, source_name=path)
        return load_2d_resnet(model, source, source=path)
    if path.endswith((".pth", ".pt", ".pth.tar")):
        from keras_gst.weights.torch_convert import describe_state, load_torch_weights, read_checkpoint

        state, meta = read_checkpoint(path)
        classes = describe_state(state, meta).get("num_classes")
        # another class count (fine-tuning): keep every backbone tensor, re-initialise the head (reported)
        return load_torch_weights(model, {**meta, "state_dict": state}, include_head=classes == model.num_classes)
    raise ValueError(
        f"weights={weights!r}: unknown format. Expected a keras-hub preset directory, .keras, .weights.h5 or .pth."
    )


HEAD_LAYERS = ("frame_logits",)


@dataclasses.dataclass
class LoadReport:
    """What loading a keras_gst model's weights into another did: every layer is loaded or listed as skipped."""

    source: str
    loaded: list  # layer names whose weights were copied
    skipped: list  # (layer name, reason): only the classifier head may be skipped

    def __str__(self):
        lines = [f"loaded {len(self.loaded)} layers from {self.source}"]
        lines += [f"skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


def copy_weights(source, target, source_name="source model"):
    """Copy every weight of `source` into `target` by layer name; returns a `LoadReport`.

    The classifier head (`frame_logits`) is re-initialised, and reported, when its shape differs (another
    number of classes). Any other missing, unexpected or shape-mismatched layer is a ValueError naming
    every such layer; the target is unchanged then.
    """
    problems, skipped, pairs = [], [], []
    target_names = {layer.name for layer in target.layers if layer.weights}
    for layer in source.layers:
        if layer.weights and layer.name not in target_names:
            problems.append(f"{layer.name}: in {source_name} but not in this model (unexpected)")
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            problems.append(f"{layer.name}: missing in {source_name}")
            continue
        src_shapes = [tuple(w.shape) for w in src.weights]
        dst_shapes = [tuple(w.shape) for w in layer.weights]
        if src_shapes == dst_shapes:
            pairs.append((src, layer))
        elif layer.name in HEAD_LAYERS:
            skipped.append((layer.name, f"shape {src_shapes} in {source_name} vs {dst_shapes} here: re-initialised"))
        else:
            problems.append(f"{layer.name}: shapes {src_shapes} in {source_name} vs {dst_shapes} here")
    if problems:
        raise ValueError(f"Cannot load weights from {source_name}:\n  " + "\n  ".join(problems))
    for src, layer in pairs:
        layer.set_weights(src.get_weights())
    report = LoadReport(str(source_name), [layer.name for _, layer in pairs], skipped)
    if skipped:
        warnings.warn(str(report), stacklevel=3)
    return report
