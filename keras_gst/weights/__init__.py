"""Weight sources for keras_gst models: ImageNet 2D ResNets (keras-hub), our own saved models, PyTorch."""

import os

from keras_gst.weights.imagenet import load_2d_resnet, load_imagenet


def load_weights(model, weights):
    """Fill `model` (a `GSTResNet`) from `weights`:

    - "imagenet": the keras-hub preset `resnet_{depth}_imagenet` (needs the network once, or a local
      Kaggle cache); ResNet-34 has no plain keras-hub preset: use torchvision's resnet34 .pth.
    - a directory: a keras-hub ResNet preset saved with `save_to_preset` (config.json + model.weights.h5).
    - `*.keras`: a saved keras-hub `ResNetBackbone` (inflated as ImageNet init) or a saved keras_gst model.
    - `*.weights.h5`: weights saved by `model.save_weights` of the same architecture.
    - `*.pth` / `*.pt` / `*.pth.tar` (the authors' main.py names): a PyTorch checkpoint (the authors' GST
      or torchvision ResNet), see `keras_gst.weights.torch_convert`.
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
        model.load_weights(path)
        return None
    if path.endswith(".keras"):
        import keras

        source = keras.saving.load_model(path, compile=False)
        from keras_gst.models.gst_resnet import GSTResNet

        if isinstance(source, GSTResNet):
            return copy_weights(source, model, source_name=path)
        return load_2d_resnet(model, source, source=path)
    if path.endswith((".pth", ".pt", ".pth.tar")):
        from keras_gst.weights.torch_convert import load_torch_weights

        return load_torch_weights(model, path)
    raise ValueError(
        f"weights={weights!r}: unknown format. Expected a keras-hub preset directory, .keras, .weights.h5 or .pth."
    )


def copy_weights(source, target, source_name="source model"):
    """Copy every weight of `source` into `target` by layer name and weight order; shapes must agree.

    Raises a ValueError naming every layer that is missing or whose shapes differ.
    """
    problems = []
    pairs = []
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
        if src_shapes != dst_shapes:
            problems.append(f"{layer.name}: shapes {src_shapes} in {source_name} vs {dst_shapes} here")
            continue
        pairs.append((src, layer))
    if problems:
        raise ValueError("Cannot load weights:\n  " + "\n  ".join(problems))
    for src, layer in pairs:
        layer.set_weights(src.get_weights())
    return None
