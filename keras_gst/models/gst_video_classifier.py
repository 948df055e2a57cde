"""`GSTVideoClassifier`: a `GSTBackbone` + the authors' head, as a keras-hub `Task`.

Head: per-frame global average pooling (`avg_pool`) -> dropout (0.3) -> Dense (`frame_logits`, per
frame, init N(0, 0.001), bias 0) -> mean over T (`logits`, the authors' "avg" consensus, float32 under
mixed precision). `per_frame_model(classifier)` returns the per-frame logits (B, T, classes) (Fig. 5).

As every keras-hub Task: `fit` / `predict` / `evaluate` run the `preprocessor` (when set) on the inputs;
calling the model, `classifier(x)`, runs the bare network on normalised float frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras_hub.models import Task

from keras_gst.layers.frames import FrameGlobalAveragePooling
from keras_gst.models.gst_backbone import GSTBackbone, check_local_preset
from keras_gst.models.gst_video_classifier_preprocessor import GSTVideoClassifierPreprocessor


def head_layers(num_classes, dropout, dtype=None):
    """The authors' head: per-frame average pool, dropout, per-frame Dense, mean over T (float32)."""
    return (
        FrameGlobalAveragePooling(name="avg_pool", dtype=dtype),
        keras.layers.Dropout(dropout, name="dropout", dtype=dtype),
        keras.layers.Dense(
            int(num_classes),
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            bias_initializer="zeros",
            name="frame_logits",
            dtype=dtype,
        ),
        keras.layers.GlobalAveragePooling1D(name="logits", dtype="float32"),
    )


@keras.saving.register_keras_serializable(package="keras_gst")
class VideoClassifier(Task):
    """Base class of video classification tasks: inputs (B, T, H, W, 3) clips, outputs (B, classes)
    logits; `compile()` defaults to sparse categorical cross-entropy on logits and top-1 accuracy.

    Example:

    ```python
    import keras_gst
    from keras_gst.models import VideoClassifier

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    model.compile()  # then model.fit(uint8_clips, labels)
    print(isinstance(model, VideoClassifier), type(model.optimizer).__name__)  # True Adam
    print(type(model.loss).__name__, model.loss.from_logits)  # SparseCategoricalCrossentropy True
    ```
    """

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="top1")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        """keras-hub's config; an uncompiled model (e.g. saved for inference without optimizer state, see
        `keras_gst.training.callbacks.save_model`) records `compile=False`, so it loads uncompiled instead of
        with keras-hub's default `compile()`, whose unbuilt Adam no saved optimizer state fits ("UserWarning:
        Skipping variable loading for optimizer 'adam'")."""
        config = super().get_config()
        if not self.compiled:
            config["compile"] = False
        return config

    def compile_from_config(self, config):
        """Recompile a loaded `.keras` file as it was saved (optimizer, loss, metrics), so its optimizer
        state loads too: `compile` above takes Keras' arguments, Keras' own rule applies."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTVideoClassifier(VideoClassifier):
    """GST video classifier: `backbone` (a `GSTBackbone`) + the authors' head.

    Args:
        backbone: a `keras_gst.GSTBackbone`.
        num_classes: number of output classes.
        preprocessor: None (inputs are normalised float frames), or a `GSTVideoClassifierPreprocessor`
            (inputs are [0, 255] pixel clips of any size, for `fit` / `predict` / `evaluate`).
        dropout: dropout rate before the classifier (0.3 as the authors).

    The head layers take the backbone's dtype policy; the clip logits are float32.

    Example:

    ```python
    import numpy as np
    import keras_gst

    backbone = keras_gst.GSTBackbone(depth=18, num_frames=4, image_shape=(32, 32, 3))
    preprocessor = keras_gst.GSTVideoClassifierPreprocessor.for_image_shape(backbone.image_shape)
    model = keras_gst.GSTVideoClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    logits = model.predict(np.zeros((1, 4, 32, 32, 3), "uint8"), verbose=0)  # pixels in [0, 255]
    print(logits.shape)  # (1, 2)
    ```
    """

    backbone_cls = GSTBackbone
    preprocessor_cls = GSTVideoClassifierPreprocessor

    def __init__(self, backbone: GSTBackbone, num_classes: int,
                 preprocessor: GSTVideoClassifierPreprocessor | None = None, dropout: float = 0.3, **kwargs):
        if not isinstance(backbone, GSTBackbone):
            raise ValueError(f"`backbone` must be a keras_gst.GSTBackbone. Received: {type(backbone).__name__}")
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer. Received: num_classes={num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooler, self.output_dropout, self.output_dense, self.consensus = head_layers(
            num_classes, dropout, backbone.dtype_policy
        )
        inputs = backbone.input
        x = backbone(inputs)
        x = self.pooler(x)
        x = self.output_dropout(x)
        x = self.output_dense(x)
        outputs = self.consensus(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = int(num_classes)
        self.dropout = float(dropout)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout=self.dropout)
        return config

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras-hub's `Task.from_preset` (built-in name, kaggle://, hf:// or a local directory); a local
        directory is checked first so that a missing file or another model's preset is named clearly."""
        check_local_preset(preset)
        model = super().from_preset(preset, load_weights=load_weights, **kwargs)
        model.compile()  # compiled with the defaults, as a keras-hub task from a preset (see `get_config`)
        return model

    # The backbone's architecture, read through the classifier (the CLI and exporters use these).
    depth = property(lambda self: self.backbone.depth)
    block = property(lambda self: self.backbone.block)
    alpha = property(lambda self: self.backbone.alpha)
    beta = property(lambda self: self.backbone.beta)
    groups = property(lambda self: self.backbone.groups)
    num_frames = property(lambda self: self.backbone.num_frames)
    frame_shape = property(lambda self: self.backbone.image_shape)
    temporal_impl = property(lambda self: self.backbone.temporal_impl)
    causal = property(lambda self: self.backbone.causal)

    def units(self):
        """The 3x3 convolution units (GSTBlock or baseline), in network order."""
        return self.backbone.units()

    # -- frame-by-frame mode: the backbone's (`GSTBackbone.stream_step`), then the head on each frame

    stream_delay = property(lambda self: self.backbone.stream_delay)

    def stream_state_shapes(self):
        """{state name: shape per sample} of `stream_step` (the backbone's; the head has no state)."""
        return self.backbone.stream_state_shapes()

    def stream_step(self, frame, valid, states):
        """One normalised frame (B, H, W, 3): (frame logits (B, classes) of the frame `stream_delay` steps
        earlier, its valid flag (B,), new states); see `GSTBackbone.stream_step`. The valid frame logits
        equal `per_frame_model(self)`'s; `keras_gst.export.StreamingGST` adds the running clip mean.

        Example:

        ```python
        model = keras_gst.GSTResNet18(5, weights=None, input_shape=(64, 64, 3))
        clip = np.zeros((1, 4, 64, 64, 3), "float32")  # normalised frames
        states = {k: np.zeros((1,) + s, "float32") for k, s in model.stream_state_shapes().items()}
        for s in range(4 + model.stream_delay):  # the clip, then `stream_delay` flush steps
            frame = clip[:, s] if s < 4 else np.zeros_like(clip[:, 0])
            logits, valid, states = model.stream_step(frame, np.full((1,), float(s < 4), "float32"), states)
        ```
        """
        x, valid, new = self.backbone.stream_step(frame, valid, states)
        return self.output_dense(self.pooler(x))[:, 0], valid, new

    def get_layer(self, name=None, index=None):
        """A head layer (`avg_pool`, `dropout`, `frame_logits`, `logits`) or, by name, a backbone layer
        (`stem`, `stack{i}_block{j}_{k}`, ...), so names read the same on the classifier as on the backbone."""
        try:
            return super().get_layer(name, index)
        except ValueError:
            if name is None:
                raise
            return self.backbone.get_layer(name)


def per_frame_model(model: GSTVideoClassifier) -> keras.Model:
    """A model sharing `model`'s weights that returns per-frame logits (B, T, classes) (paper Fig. 5).

    Example:

    ```python
    import numpy as np
    import keras_gst

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    frame_logits = keras_gst.per_frame_model(model)(np.zeros((1, 4, 32, 32, 3), "float32"))
    print(tuple(frame_logits.shape))  # (1, 4, 2)
    ```
    """
    return keras.Model(model.input, model.get_layer("frame_logits").output, name=f"{model.name}_per_frame")


def feature_model(model: GSTVideoClassifier) -> keras.Model:
    """A model sharing `model`'s weights that returns the last block's feature maps (B, T, h, w, C).

    Example:

    ```python
    import numpy as np
    import keras_gst

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    features = keras_gst.feature_model(model)(np.zeros((1, 4, 32, 32, 3), "float32"))
    print(tuple(features.shape))  # (1, 4, 1, 1, 512)
    ```
    """
    return keras.Model(model.input, model.get_layer("avg_pool").input, name=f"{model.name}_features")


def rebuild(model: GSTVideoClassifier, num_frames: int | None = None, frame_size: int | Sequence[int] | None = None,
            **backbone_changes) -> GSTVideoClassifier:
    """A new `GSTVideoClassifier` from `model`'s config (no preprocessor, fresh weights) with the input
    shape fixed to `num_frames` / `frame_size` where given and other backbone arguments changed.

    Example:

    ```python
    import keras_gst
    from keras_gst.models import rebuild

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3))  # any number of frames
    fixed = rebuild(model, num_frames=4, frame_size=48, causal=True)
    print(fixed.input_shape, fixed.causal)  # (None, 4, 48, 48, 3) True
    ```
    """
    config = model.get_config()
    backbone = dict(config["backbone"]["config"], **backbone_changes)
    if num_frames is not None:
        backbone["num_frames"] = int(num_frames)
    if frame_size is not None:
        h, w = (frame_size, frame_size) if isinstance(frame_size, int) else tuple(frame_size)
        backbone["image_shape"] = (int(h), int(w), 3)
    config["backbone"] = dict(config["backbone"], config=backbone)
    config["preprocessor"] = None
    return type(model).from_config(config)
