"""GST-ResNet video classifiers (Luo & Yuille, ICCV 2019) and the paper's baselines.

Input: (B, T, H, W, 3) float frames, channels-last, normalised like the ImageNet weights. Frames run as a
(B*T) batch of 2D images everywhere except in the temporal convolutions. Output: clip logits (B, classes),
the mean of per-frame logits over T (the authors' "avg" consensus); `per_frame_model(model)` exposes the
per-frame logits (B, T, classes).

Every convolution is one unit layer holding its kernel(s) and BatchNorm (`bn`), conv -> BN -> [ReLU],
which folds the BN into the convolution at inference (keras_gst.layers.gst_block). Names follow keras-hub's
ResNet without the `_conv` / `_bn` suffix: `stem`, and `stack{i}_block{j}_{0,1,2,3}` (0 the shortcut,
1 and 3 the 1x1 convolutions, a `FrameConvBN`); the 3x3 convolution of a bottleneck, `_2`, is a
`GSTBlock` or a baseline unit. Basic blocks (ResNet-18/34) have two such units, `_1` and `_2`: the
authors' code has no GST basic block, so the GST split is applied to both 3x3 convolutions (docs/paper.md).
"""

import keras

from keras_gst.layers.frames import FrameGlobalAveragePooling, FrameMaxPooling2D
from keras_gst.layers.gst_block import UNITS, FrameConvBN

# depth -> (block type, blocks per stage). Stage widths are 64, 128, 256, 512 ("planes"); bottlenecks
# expand by 4.
RESNET_SPECS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
STAGE_FILTERS = (64, 128, 256, 512)
MIN_SIZE = 32


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTResNet(keras.Model):
    """A ResNet video classifier whose 3x3 convolutions are GST units (or a baseline's).

    Args:
        depth: 18, 34, 50 or 101.
        num_classes: number of output classes.
        block: "gst" (default), or a baseline of the paper's Table 2: "c2d" (per-frame 2D), "c3d"
            (3x3x3 everywhere; `groups=2` is C3D-groups), "p3d" (P3D-A).
        alpha: GST share of temporal output channels (default 1/4).
        beta: GST share of input channels read by the spatial path (1/2 = GST, 1 = GST-Large).
        groups: channel groups of the "c3d" convolutions.
        num_frames: fixed T, or None (any number of frames).
        input_shape: (H, W, 3) with H, W >= 32 or None; default (None, None, 3), any size.
        dropout: dropout rate before the classifier (0.3 as the authors).
        temporal_impl: "conv3d" (default) or "conv2d": temporal convolutions as one Conv3D op, or as the
            exactly equivalent sum of per-frame Conv2Ds on time-shifted frames (all-int8 TFLite export).
            Same weights either way.
        causal: temporal convolutions see only the current and past frames (padding before the first
            frame only), so a stream emits each frame's logits at once (no look-ahead delay).
        weights: None, "imagenet", or a path (see `keras_gst.weights.load_weights`). Not part of the
            config: a saved model restores its own weights.
    """

    def __init__(
        self,
        depth=50,
        num_classes=174,
        block="gst",
        alpha=0.25,
        beta=0.5,
        groups=1,
        num_frames=None,
        input_shape=None,
        dropout=0.3,
        temporal_impl="conv3d",
        causal=False,
        weights=None,
        **kwargs,
    ):
        if depth not in RESNET_SPECS:
            raise ValueError(f"`depth` must be one of {sorted(RESNET_SPECS)}. Received: depth={depth}")
        if block not in UNITS:
            raise ValueError(f"`block` must be one of {sorted(UNITS)}. Received: block={block!r}")
        if groups != 1 and block != "c3d":
            raise ValueError(f"`groups` applies to block='c3d' only. Received: block={block!r}, groups={groups}")
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer. Received: num_classes={num_classes}")
        if num_frames is not None and (int(num_frames) != num_frames or num_frames < 1):
            raise ValueError(f"`num_frames` must be None or a positive integer. Received: num_frames={num_frames}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        input_shape = tuple(input_shape) if input_shape is not None else (None, None, 3)
        if len(input_shape) != 3 or input_shape[-1] != 3:
            raise ValueError(f"`input_shape` must be (H, W, 3). Received: input_shape={input_shape}")
        if any(s is not None and s < MIN_SIZE for s in input_shape[:2]):
            raise ValueError(f"Frames must be at least {MIN_SIZE}x{MIN_SIZE}. Received: input_shape={input_shape}")
        block_type, stage_blocks = RESNET_SPECS[depth]

        def unit(filters, strides, name, activation=True):
            options = {"gst": {"alpha": alpha, "beta": beta}, "c3d": {"groups": groups}}.get(block, {})
            return UNITS[block](
                filters, strides=strides, activation=activation, temporal_impl=temporal_impl, causal=causal, name=name,
                **options,
            )

        inputs = keras.Input(shape=(num_frames,) + input_shape, name="frames")
        x = FrameConvBN(64, 7, strides=2, name="stem")(inputs)
        x = FrameMaxPooling2D(3, strides=2, name="stem_pool")(x)
        channels = 64
        for i, (filters, blocks) in enumerate(zip(STAGE_FILTERS, stage_blocks)):
            for j in range(blocks):
                name = f"stack{i}_block{j}"
                strides = 2 if (i > 0 and j == 0) else 1
                out_channels = filters * (4 if block_type == "bottleneck" else 1)
                shortcut = x
                if strides != 1 or channels != out_channels:
                    shortcut = FrameConvBN(out_channels, 1, strides=strides, activation=False, name=f"{name}_0")(x)
                if block_type == "bottleneck":
                    x = FrameConvBN(filters, 1, name=f"{name}_1")(x)
                    x = unit(filters, strides, f"{name}_2")(x)
                    x = FrameConvBN(out_channels, 1, activation=False, name=f"{name}_3")(x)
                else:
                    x = unit(filters, strides, f"{name}_1")(x)
                    x = unit(filters, 1, f"{name}_2", activation=False)(x)
                x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
                x = keras.layers.ReLU(name=f"{name}_out")(x)
                channels = out_channels
        x = FrameGlobalAveragePooling(name="avg_pool")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            bias_initializer="zeros",
            name="frame_logits",
        )(x)
        outputs = keras.layers.GlobalAveragePooling1D(name="logits")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.depth = depth
        self.num_classes = int(num_classes)
        self.block = block
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.groups = int(groups)
        self.num_frames = num_frames
        self.frame_shape = input_shape
        self.dropout = float(dropout)
        self.temporal_impl = temporal_impl
        self.causal = bool(causal)
        self.load_report = None  # what `weights` loaded and skipped (see keras_gst.weights.load_weights)
        if weights is not None:
            from keras_gst.weights import load_weights

            self.load_report = load_weights(self, weights)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depth": self.depth,
            "num_classes": self.num_classes,
            "block": self.block,
            "alpha": self.alpha,
            "beta": self.beta,
            "groups": self.groups,
            "num_frames": self.num_frames,
            "input_shape": list(self.frame_shape),
            "dropout": self.dropout,
            "temporal_impl": self.temporal_impl,
            "causal": self.causal,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def units(self):
        """The 3x3 convolution units (GSTBlock or baseline), in network order."""
        return [layer for layer in self.layers if isinstance(layer, tuple(UNITS.values()))]


def per_frame_model(model):
    """A model sharing `model`'s weights that returns per-frame logits (B, T, classes) (paper Fig. 5)."""
    return keras.Model(model.input, model.get_layer("frame_logits").output, name=f"{model.name}_per_frame")


def feature_model(model):
    """A model sharing `model`'s weights that returns the last block's feature maps (B, T, h, w, C)."""
    return keras.Model(model.input, model.get_layer("avg_pool").input, name=f"{model.name}_features")


def _factory(depth):
    def build(
        num_classes,
        weights="imagenet",
        alpha=0.25,
        beta=0.5,
        num_frames=None,
        input_shape=None,
        dropout=0.3,
        block="gst",
        groups=1,
        causal=False,
        name=None,
    ):
        return GSTResNet(
            depth=depth,
            num_classes=num_classes,
            block=block,
            alpha=alpha,
            beta=beta,
            groups=groups,
            num_frames=num_frames,
            input_shape=input_shape,
            dropout=dropout,
            causal=causal,
            weights=weights,
            name=name or f"{block}_resnet{depth}",
        )

    build.__name__ = build.__qualname__ = f"GSTResNet{depth}"
    build.__doc__ = (
        f"GST-ResNet-{depth} video classifier (see `GSTResNet`). `weights`: 'imagenet' (keras-hub "
        f"preset, needs network once), None (random init), or a local path (keras-hub preset dir, .keras, "
        f".weights.h5, PyTorch .pth)."
    )
    return build


GSTResNet18 = _factory(18)
GSTResNet34 = _factory(34)
GSTResNet50 = _factory(50)
GSTResNet101 = _factory(101)
