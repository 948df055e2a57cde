"""Loading models: keras-gst presets, `.keras` files, and `.keras` files of keras-gst 0.1 (`GSTResNet`).

keras-gst 0.1 saved one flat functional `GSTResNet` (backbone and head layers side by side). That class
stays registered, config-only, so those files still load with `keras.saving.load_model` after
`import keras_gst`; `upgrade_legacy(model)` (and `load_model`, which every `keras-gst` command uses)
turns one into today's `GSTVideoClassifier` with the same weights and outputs.
"""

import os

import keras

from keras_gst.models.gst_backbone import GSTBackbone, build_resnet, check_architecture
from keras_gst.models.gst_video_classifier import GSTVideoClassifier, head_layers


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTResNet(keras.Model):
    """keras-gst 0.1's video classifier, kept so its `.keras` files load. New code: `GSTVideoClassifier`
    (or the `keras_gst.GSTResNet50`, ... factories); convert with `upgrade_legacy(model)`.

    The layers, their order and names are those of 0.1, so the saved weights land where they were. A
    `weights` entry in a config is refused: a saved config never loads weights.
    """

    def __init__(self, depth=50, num_classes=174, block="gst", alpha=0.25, beta=0.5, groups=1, num_frames=None,
                 input_shape=None, dropout=0.3, temporal_impl="conv3d", **kwargs):
        if "weights" in kwargs:
            raise ValueError(
                "GSTResNet no longer takes `weights`: build with keras_gst.GSTResNet50(...) (or another depth), "
                "or load weights with keras_gst.weights.load_weights(model, weights)."
            )
        input_shape = check_architecture(depth, block, alpha, beta, groups, num_frames, input_shape)
        inputs = keras.Input(shape=(num_frames,) + input_shape, name="frames")
        x, _ = build_resnet(inputs, depth, block, alpha, beta, groups, temporal_impl)
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


def upgrade_legacy(model):
    """A `GSTVideoClassifier` with the architecture, name and weights of a keras-gst 0.1 `GSTResNet`."""
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


def load_model(path, compile=False, preprocessor=True):
    """A `GSTVideoClassifier` from a keras-hub preset directory (`save_to_preset`, `keras-gst
    convert-torch --out DIR`) or a `.keras` file (keras-gst 0.1 files are upgraded, see `upgrade_legacy`).

    `preprocessor=False` drops a preset's preprocessor: for callers that feed normalised clips through
    `predict` / `evaluate`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "task.json")):
            if os.path.isfile(os.path.join(path, "config.json")):
                raise ValueError(
                    f"{path} is a backbone-only preset (no task.json): it has no classifier. Load it with "
                    f"keras_gst.GSTVideoClassifier.from_preset({path!r}, num_classes=N) and train the head."
                )
            GSTVideoClassifier.from_preset(path)  # names the missing config.json
        model = GSTVideoClassifier.from_preset(path)
        if not preprocessor:
            model.preprocessor = None
        return model
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file or preset directory: {path}")
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: expected a .keras file or a keras-hub preset directory")
    model = keras.saving.load_model(path, compile=compile)
    if isinstance(model, GSTResNet):
        model = upgrade_legacy(model)
    if not isinstance(model, GSTVideoClassifier):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_gst GSTVideoClassifier")
    if not preprocessor:
        model.preprocessor = None
    return model
