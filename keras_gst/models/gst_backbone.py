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
"""

import json
import os

import keras
from keras_hub.models import FeaturePyramidBackbone

from keras_gst.layers.frames import FrameMaxPooling2D
from keras_gst.layers.gst_block import UNITS, FrameConvBN
from keras_gst.models.specs import STEM_FILTERS, block_specs, check_model


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


def build_resnet(x, depth, block="gst", alpha=0.25, beta=0.5, groups=1, temporal_impl="conv3d", dtype=None,
                 causal=False):
    """Apply the GST-ResNet layers to the frames tensor `x`; returns (features, {"P2".."P5": stage outputs}).

    The one place where layers are created from the topology of `keras_gst.models.specs`.
    """
    options = {"gst": {"alpha": alpha, "beta": beta}, "c3d": {"groups": groups}}.get(block, {})
    x = FrameConvBN(STEM_FILTERS, 7, strides=2, name="stem", dtype=dtype)(x)
    x = FrameMaxPooling2D(3, strides=2, name="stem_pool", dtype=dtype)(x)
    pyramid = {}
    for spec in block_specs(depth):
        outputs = {}
        for conv in spec.convs:
            if conv.kind == "unit":
                layer = UNITS[block](conv.filters, strides=conv.strides, activation=conv.activation,
                                     temporal_impl=temporal_impl, causal=causal, name=conv.name, dtype=dtype,
                                     **options)
            else:
                layer = FrameConvBN(conv.filters, 1, strides=conv.strides, activation=conv.activation,
                                    name=conv.name, dtype=dtype)
            outputs[conv.name] = layer
        shortcut = outputs[spec.shortcut.name](x) if spec.shortcut else x
        y = x
        for conv in spec.body:
            y = outputs[conv.name](y)
        x = keras.layers.Add(name=f"{spec.name}_add", dtype=dtype)([shortcut, y])
        x = keras.layers.ReLU(name=f"{spec.name}_out", dtype=dtype)(x)
        pyramid[f"P{spec.stage + 2}"] = x
    return x, pyramid


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
    """

    def __init__(
        self,
        depth=50,
        block="gst",
        alpha=0.25,
        beta=0.5,
        groups=1,
        num_frames=None,
        image_shape=(None, None, 3),
        temporal_impl="conv3d",
        causal=False,
        dtype=None,
        **kwargs,
    ):
        image_shape = check_architecture(depth, block, alpha, beta, groups, num_frames, image_shape)
        dtype = check_dtype(dtype)
        inputs = keras.Input(shape=(num_frames,) + image_shape, name="frames")
        x, pyramid = build_resnet(inputs, depth, block, alpha, beta, groups, temporal_impl, dtype, causal)
        super().__init__(inputs=inputs, outputs=x, dtype=dtype, **kwargs)

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
        return [layer for layer in self.layers if isinstance(layer, tuple(UNITS.values()))]


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
