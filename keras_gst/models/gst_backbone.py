"""`GSTBackbone`: the GST-ResNet video backbone (Luo & Yuille, ICCV 2019) as a keras-hub `Backbone`.

Input: (B, T, H, W, 3) float frames, channels-last, normalised like the ImageNet weights. Frames run as a
(B*T) batch of 2D images everywhere except in the temporal convolutions. Output: the last block's
per-frame feature maps (B, T, h, w, C); `pyramid_outputs` holds each stage's output ("P2" ... "P5", as
keras-hub's ResNetBackbone).

Every convolution is one unit layer holding its kernel(s) and BatchNorm (`bn`), conv -> BN -> [ReLU],
which folds the BN into the convolution at inference (keras_gst.layers.gst_block). Layer names come from
`keras_gst.models.specs`: `stem`, and `stack{i}_block{j}_{0,1,2,3}` (0 the shortcut, 1 and 3 the 1x1
convolutions, a `FrameConvBN`); the 3x3 convolution of a bottleneck, `_2`, is a `GSTBlock` or a
baseline unit. Basic blocks (ResNet-18/34) have two such units, `_1` and `_2`: the authors' code has no
GST basic block, so the GST split is applied to both 3x3 convolutions.

The layers and their wiring are defined once (`ResNetLayers`): the clip model is that graph on a clip, and
the frame-by-frame mode (`GSTBackbone.stream_step`, MoViNet style) walks the same graph one frame at a
time, each unit stepping with its own state (`keras_gst.layers.conv_unit.ConvUnit.stream_step`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import keras
from keras_hub.models import FeaturePyramidBackbone

from keras_gst.layers.frames import FrameMaxPooling2D
from keras_gst.layers.gst_block import UNITS, FrameConvBN
from keras_gst.models.specs import STEM_FILTERS, BlockSpec, block_specs, check_model


def check_dtype(dtype):
    """The Keras dtype policy for `dtype` (None: the global policy); a ValueError naming the choices."""
    if dtype is None or isinstance(dtype, keras.DTypePolicy):
        return dtype
    try:
        return keras.dtype_policies.get(dtype)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Unknown dtype {dtype!r}. Use a Keras dtype policy: 'float32' (default), 'mixed_bfloat16' (TPUs, "
            f"recent CPUs/GPUs), 'mixed_float16' (NVIDIA GPUs) or 'bfloat16' / 'float16'."
        ) from error


def check_architecture(depth, block, alpha, beta, groups, num_frames, image_shape):
    """Validate the backbone arguments (`keras_gst.models.specs.check_model`); returns image_shape as a tuple."""
    image_shape = tuple(image_shape) if image_shape is not None else (None, None, 3)
    if len(image_shape) != 3 or image_shape[-1] != 3:
        raise ValueError(f"`image_shape` must be (H, W, 3). Received: image_shape={image_shape}")
    sides = [s for s in image_shape[:2] if s is not None]
    check_model(depth, block, alpha, beta, groups, num_frames, min(sides) if sides else None)
    return image_shape


@dataclasses.dataclass(frozen=True)
class ResidualBlock:
    """The layers of one residual block: `shortcut` (a `FrameConvBN`, None for the identity), `body` (the
    residual branch, ((ConvSpec, layer), ...) in order), `add` and `out` (the ReLU)."""

    spec: BlockSpec
    shortcut: object
    body: tuple
    add: object
    out: object

    @property
    def stream_delay(self):
        """Steps the residual branch delays a frame in the frame-by-frame mode (the shortcut waits as long)."""
        return sum(layer.stream_delay for _, layer in self.body)


@dataclasses.dataclass(frozen=True)
class ResNetLayers:
    """The layers of a GST-ResNet, created from the topology of `keras_gst.models.specs` (`create`), and
    `walk`, their wiring: the one graph definition used by the clip model (`__call__`) and by the
    frame-by-frame mode (`GSTBackbone.stream_step`)."""

    stem: object
    stem_pool: object
    blocks: tuple  # ResidualBlock, in network order

    @classmethod
    def create(cls, depth, block="gst", alpha=0.25, beta=0.5, groups=1, temporal_impl="conv3d", dtype=None,
               causal=False):
        """The one place where layers are created: names `stem`, `stem_pool`, `stack{i}_block{j}_{0,1,2,3}`,
        `_add` and `_out`."""
        options = {"gst": {"alpha": alpha, "beta": beta}, "c3d": {"groups": groups}}.get(block, {})

        def conv(spec):
            if spec.kind == "unit":
                return UNITS[block](spec.filters, strides=spec.strides, activation=spec.activation,
                                    temporal_impl=temporal_impl, causal=causal, name=spec.name, dtype=dtype, **options)
            return FrameConvBN(spec.filters, 1, strides=spec.strides, activation=spec.activation, name=spec.name,
                               dtype=dtype)

        stem = FrameConvBN(STEM_FILTERS, 7, strides=2, name="stem", dtype=dtype)
        stem_pool = FrameMaxPooling2D(3, strides=2, name="stem_pool", dtype=dtype)
        blocks = tuple(
            ResidualBlock(spec, conv(spec.shortcut) if spec.shortcut else None,
                          tuple((c, conv(c)) for c in spec.body),
                          keras.layers.Add(name=f"{spec.name}_add", dtype=dtype),
                          keras.layers.ReLU(name=f"{spec.name}_out", dtype=dtype))
            for spec in block_specs(depth)
        )
        return cls(stem, stem_pool, blocks)

    def walk(self, x, valid, conv, shortcut):
        """The graph on frames `x` (B, T, H, W, 3): returns (features, valid, {"P2".."P5": stage outputs}).

        `conv(layer, x, valid)` -> (y, valid of y) runs one convolution (the stem, a 1x1, a shortcut or a
        3x3 unit); `shortcut(block, s)` -> the shortcut `s` as the block's residual add takes it. `valid` is
        passed along the convolutions (the frame flags of the frame-by-frame mode; None for a clip).
        """
        x, valid = conv(self.stem, x, valid)
        x = self.stem_pool(x)
        pyramid = {}
        for block in self.blocks:
            s = conv(block.shortcut, x, valid)[0] if block.shortcut else x
            y = x
            for _, layer in block.body:
                y, valid = conv(layer, y, valid)
            x = block.out(block.add([shortcut(block, s), y]))
            pyramid[f"P{block.spec.stage + 2}"] = x
        return x, valid, pyramid

    def __call__(self, x):
        """The clip model on frames `x` (B, T, H, W, 3): (features, {"P2".."P5": stage outputs})."""
        x, _, pyramid = self.walk(x, None, lambda layer, y, valid: (layer(y), valid), lambda block, s: s)
        return x, pyramid

    def conv_layers(self):
        """Every convolution layer (stem, shortcuts, 1x1 and 3x3 units), in network order."""
        layers = [self.stem]
        for block in self.blocks:
            layers += ([block.shortcut] if block.shortcut else []) + [layer for _, layer in block.body]
        return layers

    def units(self):
        """The 3x3 convolution units (GSTBlock or baseline), in network order."""
        return [layer for block in self.blocks for conv, layer in block.body if conv.kind == "unit"]


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTBackbone(FeaturePyramidBackbone):
    """GST-ResNet backbone: per-frame feature maps (B, T, h, w, C) of a video clip.

    Config only: building it reads no file and no network. Weights come from `from_preset` or
    `keras_gst.weights.load_weights`.

    Args:
        depth: 18, 34, 50 or 101.
        block: "gst" (default), or a baseline of the paper's Table 2: "c2d" (per-frame 2D), "c3d"
            (3x3x3 everywhere; `groups=2` is C3D-groups), "p3d" (P3D-A).
        alpha: GST share of temporal output channels (default 1/4).
        beta: GST share of input channels read by the spatial path (1/2 = GST, 1 = GST-Large).
        groups: channel groups of the "c3d" convolutions.
        num_frames: fixed T, or None (any number of frames).
        image_shape: (H, W, 3) with H, W >= 32, or None entries (any size, the default).
        temporal_impl: "conv3d" (default) or "conv2d": temporal convolutions as one Conv3D op, or as the
            exactly equivalent sum of per-frame Conv2Ds on time-shifted frames (all-int8 TFLite export).
            Same weights either way.
        causal: temporal convolutions see only the current and past frames (two frames of zero padding
            before the first frame, none after), so a stream emits each frame's logits at once (no
            look-ahead delay; `keras_gst.export.StreamingGST`). Same weights and parameter count.
        dtype: a Keras dtype policy ("float32", "mixed_bfloat16", "mixed_float16", ...), handed to every
            layer; None uses the global policy. Saved presets and `.keras` files reload in the policy they
            were saved with (keras-hub's loaders alone would apply the global one), unless
            `from_preset(..., dtype=...)` names another.

    Example:

    ```python
    import numpy as np
    from keras_gst.models import GSTBackbone

    backbone = GSTBackbone(depth=18, num_frames=4, image_shape=(32, 32, 3))
    features = backbone(np.zeros((1, 4, 32, 32, 3), "float32"))  # normalised frames
    print(tuple(features.shape), sorted(backbone.pyramid_outputs))  # (1, 4, 1, 1, 512) ['P2', 'P3', 'P4', 'P5']
    ```
    """

    def __init__(
        self,
        depth: int = 50,
        block: str = "gst",
        alpha: float = 0.25,
        beta: float = 0.5,
        groups: int = 1,
        num_frames: int | None = None,
        image_shape: Sequence[int | None] = (None, None, 3),
        temporal_impl: str = "conv3d",
        causal: bool = False,
        dtype: str | keras.DTypePolicy | None = None,
        **kwargs,
    ):
        image_shape = check_architecture(depth, block, alpha, beta, groups, num_frames, image_shape)
        dtype = check_dtype(dtype)
        inputs = keras.Input(shape=(num_frames,) + image_shape, name="frames")
        resnet = ResNetLayers.create(depth, block, alpha, beta, groups, temporal_impl, dtype, causal)
        x, pyramid = resnet(inputs)
        super().__init__(inputs=inputs, outputs=x, dtype=dtype, **kwargs)

        self.resnet = resnet

        self.depth = depth
        self.block = block
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.groups = int(groups)
        self.num_frames = num_frames
        self.image_shape = image_shape
        self.temporal_impl = temporal_impl
        self.causal = bool(causal)
        self.pyramid_outputs = pyramid

    def get_config(self):
        config = super().get_config()
        # The policy is stored as "dtype_policy", not "dtype": keras-hub 0.32's preset loaders overwrite a
        # config's "dtype" with the `dtype` passed to `from_preset` (None: the global policy), and its task
        # loader fails on a mixed policy there (`_resolve_dtype` -> `standardize_dtype("mixed_bfloat16")`).
        # `from_config` uses it unless a `dtype` is given, so every load path keeps the saved policy.
        config["dtype_policy"] = config.pop("dtype")
        config.update(
            depth=self.depth,
            block=self.block,
            alpha=self.alpha,
            beta=self.beta,
            groups=self.groups,
            num_frames=self.num_frames,
            image_shape=list(self.image_shape),
            temporal_impl=self.temporal_impl,
            causal=self.causal,
        )
        return config

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`; the saved "dtype_policy" applies unless `config["dtype"]` names one (a
        `from_preset(..., dtype=...)` or `rebuild(..., dtype=...)` override)."""
        config = dict(config)
        saved = config.pop("dtype_policy", None)
        if config.get("dtype") is None:
            config["dtype"] = saved
        return super().from_config(config)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras-hub's `Backbone.from_preset`, with a local directory checked first (see `check_local_preset`)."""
        check_local_preset(preset)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

    @property
    def num_features(self):
        return int(self.output.shape[-1])

    def units(self):
        """The 3x3 convolution units (GSTBlock or baseline), in network order."""
        return self.resnet.units()

    # -- frame-by-frame mode (MoViNet's stream mode), walking the clip model's graph (`ResNetLayers.walk`)

    @property
    def stream_delay(self):
        """Steps between a frame's input and its features in `stream_step` (one per centred GST unit)."""
        return sum(block.stream_delay for block in self.resnet.blocks)

    def stream_state_shapes(self):
        """{state name: shape per sample} of `stream_step`: each unit's state, `<unit>_<name>` (see the
        unit's `stream_state_shapes`), and the delayed shortcut frames `<block>_shortcut<i>`. Each shape has
        rank <= 3 (rank <= 4 with the batch, as the GPU / NNAPI delegates require)."""
        if None in self.image_shape:
            raise ValueError("The frame-by-frame mode needs a static frame size: rebuild the model with "
                             "input_shape=(H, W, 3)")
        shapes = {}
        for layer in self.resnet.conv_layers():
            shapes.update({name: shape for name, (_, shape) in _unit_states(layer).items()})
        for block in self.resnet.blocks:
            shapes.update({name: tuple(block.out.output.shape[2:]) for name in _shortcut_states(block)})
        return shapes

    def stream_step(self, frame, valid, states):
        """One frame (B, H, W, 3) through the backbone, with `valid` (B,) 1.0 for a real frame and 0.0 for
        a flush step and `states` {name: (B,) + shape} of `stream_state_shapes` (zeros at the start).

        Returns (features (B, 1, h, w, C), valid, new states): the features of the frame `stream_delay` steps
        earlier, valid where `valid` is 1. Over a clip and `stream_delay` flush steps, the valid features
        equal the clip model's frame by frame.
        """
        new = {}

        def conv(layer, x, valid_x):
            names = _unit_states(layer)
            y, valid_y, unit_new = layer.stream_step(x, valid_x, {key: states[n] for n, (key, _) in names.items()})
            new.update({n: unit_new[key] for n, (key, _) in names.items()})
            return y, valid_y

        def shortcut(block, s):
            names = _shortcut_states(block)
            if not names:
                return s
            buffer = [states[n] for n in names] + [s[:, 0]]
            new.update(zip(names, buffer[1:]))
            return buffer[0][:, None]

        x, valid, _ = self.resnet.walk(frame[:, None], valid, conv, shortcut)
        return x, valid, new


def _unit_states(layer):
    """{state name: (the layer's own key, shape per sample)} of a convolution layer in the stream."""
    shapes = layer.stream_state_shapes(tuple(layer.input.shape[2:]))
    return {f"{layer.name}_{key}": (key, shape) for key, shape in shapes.items()}


def _shortcut_states(block):
    """The state names of a block's delayed shortcut frames (oldest first)."""
    return [f"{block.spec.name}_shortcut{i}" for i in range(block.stream_delay)]


def check_local_preset(preset):
    """For a local preset directory: a clear error when config.json or model.weights.h5 is missing or
    config.json holds another model than a GSTBackbone. Handles (kaggle://, hf://) are left to keras-hub."""
    preset = os.fspath(preset) if isinstance(preset, os.PathLike) else preset
    if not isinstance(preset, str) or "://" in preset or not os.path.isdir(preset):
        return
    config_path = os.path.join(preset, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{config_path} is missing: {preset} is not a keras-hub preset directory. Write one with "
            f"`classifier.save_to_preset(dir)` or `keras-gst convert-torch CKPT --out DIR`."
        )
    with open(config_path) as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{config_path} is not valid JSON ({error}). Re-save the preset.") from error
    name = config.get("registered_name") or config.get("class_name") or config.get("architecture")
    if name != "keras_gst>GSTBackbone":
        raise ValueError(
            f"{config_path} describes a {name or 'non-Keras'} model, not a keras_gst GSTBackbone. To start a GST "
            f"model from a 2D keras-hub ResNet preset, inflate it: keras_gst.weights.load_weights(model, {preset!r})."
        )
    if not os.path.isfile(os.path.join(preset, "model.weights.h5")) and not os.path.isfile(
        os.path.join(preset, "model.weights.json")
    ):
        raise FileNotFoundError(
            f"{os.path.join(preset, 'model.weights.h5')} is missing: the preset {preset} has a config but no "
            f"backbone weights. Copy the whole preset directory again, or re-create it with `save_to_preset`."
        )
