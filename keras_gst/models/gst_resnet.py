"""Loading models: keras-gst presets, `.keras` files, and `.keras` files of keras-gst 0.1 (`GSTResNet`).

keras-gst 0.1 saved one flat functional `GSTResNet` (backbone and head layers side by side). That class
stays registered, config-only, so those files still load with `keras.saving.load_model` after
`import keras_gst`; `upgrade_legacy(model)` (and `load_model`, which every `keras-gst` command uses)
turns one into today's `GSTVideoClassifier` with the same weights and outputs.
"""

from __future__ import annotations

import os
import zipfile

import keras

from keras_gst.errors import ModelFileError

from keras_gst.models.gst_backbone import GSTBackbone, ResNetLayers, check_architecture, check_local_preset
from keras_gst.models.gst_video_classifier import GSTVideoClassifier, head_layers


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTResNet(keras.Model):
    """keras-gst 0.1's video classifier, kept so its `.keras` files load. New code: `GSTVideoClassifier`
    (or the `keras_gst.GSTResNet50`, ... factories); convert with `upgrade_legacy(model)`.

    The layers, their order and names are those of 0.1, so the saved weights land where they were. A
    `weights` entry in a config is refused: a saved config never loads weights.

    Example:

    ```python
    import keras_gst
    from keras_gst.models import upgrade_legacy

    old = keras_gst.GSTResNet(depth=18, num_classes=2, num_frames=4, input_shape=(32, 32, 3))  # as 0.1 built it
    model = upgrade_legacy(old)
    print(type(model).__name__, model.num_classes)  # GSTVideoClassifier 2
    ```
    """

    def __init__(self, depth: int = 50, num_classes: int = 174, block: str = "gst", alpha: float = 0.25,
                 beta: float = 0.5, groups: int = 1, num_frames: int | None = None,
                 input_shape: tuple[int, int, int] | None = None, dropout: float = 0.3, temporal_impl: str = "conv3d",
                 **kwargs):
        if "weights" in kwargs:
            raise ValueError(
                "GSTResNet no longer takes `weights`: build with keras_gst.GSTResNet50(...) (or another depth), "
                "or load weights with keras_gst.weights.load_weights(model, weights)."
            )
        input_shape = check_architecture(depth, block, alpha, beta, groups, num_frames, input_shape)
        inputs = keras.Input(shape=(num_frames,) + input_shape, name="frames")
        x, _ = ResNetLayers.create(depth, block, alpha, beta, groups, temporal_impl)(inputs)
        for layer in head_layers(num_classes, dropout):
            x = layer(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        self._legacy_config = dict(depth=depth, num_classes=int(num_classes), block=block, alpha=float(alpha),
                                   beta=float(beta), groups=int(groups), num_frames=num_frames,
                                   input_shape=list(input_shape), dropout=float(dropout), temporal_impl=temporal_impl)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self._legacy_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def upgrade_legacy(model: GSTResNet) -> GSTVideoClassifier:
    """A `GSTVideoClassifier` with the architecture, name and weights of a keras-gst 0.1 `GSTResNet`.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.models import upgrade_legacy

    old = keras_gst.GSTResNet(depth=18, num_classes=2, num_frames=4, input_shape=(32, 32, 3))
    new = upgrade_legacy(old)
    x = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3)).astype("float32")
    print(np.allclose(old(x), new(x), atol=1e-5))  # True
    ```
    """
    config = model.get_config()
    backbone = GSTBackbone(
        depth=config["depth"], block=config["block"], alpha=config["alpha"], beta=config["beta"],
        groups=config["groups"], num_frames=config["num_frames"], image_shape=config["input_shape"],
        temporal_impl=config["temporal_impl"],
    )
    classifier = GSTVideoClassifier(backbone, config["num_classes"], dropout=config["dropout"], name=model.name)
    for layer in model.layers:
        if layer.weights:
            target = classifier.get_layer(layer.name) if layer.name == "frame_logits" else backbone.get_layer(layer.name)
            target.set_weights(layer.get_weights())
    return classifier


MAX_UNPACKED_BYTES = 16 << 30  # a .keras file's members, unpacked
MAX_PACKING_RATIO = 200  # unpacked / packed size of a member over 64 MiB (weights barely compress)


def load_model(path: str | os.PathLike, compile: bool = False, preprocessor: bool = True) -> GSTVideoClassifier:
    """A `GSTVideoClassifier` from a keras-hub preset directory (`save_to_preset`, `keras-gst
    convert-torch --out DIR`) or a `.keras` file (keras-gst 0.1 files are upgraded, see `upgrade_legacy`).

    `preprocessor=False` drops a preset's preprocessor: for callers that feed normalised clips through
    `predict` / `evaluate`. `.keras` files load with Keras' `safe_mode` (no Lambda code runs). Anything
    that is not a loadable keras_gst classifier raises `keras_gst.errors.ModelFileError` naming the file.

    Example:

    ```python
    import keras_gst

    keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("m.keras")
    model = keras_gst.load_model("m.keras")
    print(type(model).__name__, model.input_shape)  # GSTVideoClassifier (None, 4, 32, 32, 3)
    ```
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        model = _load_preset(path)
    elif not os.path.isfile(path):
        raise ModelFileError(path, "does not exist (expected a .keras file or a preset folder)")
    elif not path.endswith(".keras"):
        raise ModelFileError(path, "not a .keras file or a keras-hub preset directory (keras_gst reads models saved "
                                   "with model.save('m.keras') or save_to_preset; legacy .h5 files are not read)")
    else:
        model = _load_keras_file(path, compile)
    if not preprocessor:
        model.preprocessor = None
    return model


def _load_preset(path):
    if not os.path.isfile(os.path.join(path, "task.json")) and os.path.isfile(os.path.join(path, "config.json")):
        raise ModelFileError(path, f"a backbone-only preset (no task.json): it has no classifier. Load it with "
                                   f"keras_gst.GSTVideoClassifier.from_preset({path!r}, num_classes=N) and train the head.")
    try:
        check_local_preset(path)  # a missing file or another model's preset, named
    except (FileNotFoundError, ValueError) as e:
        raise ModelFileError(path, str(e)) from None
    try:
        return GSTVideoClassifier.from_preset(path)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ModelFileError(path, f"cannot load this preset: {e}") from None


def _check_archive(path):
    """A .keras file is a zip: refuse a torn one and a zip bomb before Keras unpacks it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(path, f"not a readable .keras archive ({e}): the file is torn (an interrupted copy or "
                                   "save?) or another format; copy or save it again") from None
    total = sum(m.file_size for m in members)
    bomb = [m.filename for m in members if m.file_size > 64 << 20 and m.file_size > MAX_PACKING_RATIO * max(m.compress_size, 1)]
    if total > MAX_UNPACKED_BYTES or bomb:
        raise ModelFileError(path, f"refused: it unpacks to {total / 2**30:.1f} GiB{f' ({bomb[0]} is packed over {MAX_PACKING_RATIO}x)' if bomb else ''}, "
                                   "not a model Keras saved")


def _load_keras_file(path, compile):
    _check_archive(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises ValueError, TypeError, KeyError, OSError, ... for a bad archive
        text = str(e)
        if "lambda" in text.lower() and "safe_mode" in text:
            reason = ("holds a Lambda layer (Python code), which keras_gst does not run (Keras safe_mode). Only if you "
                      "trust its author: keras.saving.load_model(path, safe_mode=False)")
        elif "Could not locate" in text or "Unknown" in text or "not a KerasSaveable" in text:
            reason = f"names a class that is not registered (custom code, or a newer/older library): {text.splitlines()[0]}"
        else:
            reason = f"cannot be loaded ({type(e).__name__}: {text.splitlines()[0] if text else 'no detail'})"
        raise ModelFileError(path, reason) from None
    if isinstance(model, GSTResNet):
        model = upgrade_legacy(model)
    if not isinstance(model, GSTVideoClassifier):
        raise ModelFileError(path, f"holds a {type(model).__module__.split('.')[0]} {type(model).__name__}, not a "
                                   "keras_gst GSTVideoClassifier")
    return model
