"""The (GST-)ResNet topology, defined once: depth -> block type and the list of residual blocks.

Read by the model builder (`keras_gst.models.gst_backbone`), the streaming model
(`keras_gst.export.streaming`) and both weight mappings (`keras_gst.weights.imagenet` for keras-hub
ResNets, `keras_gst.weights.torch_convert` for PyTorch checkpoints). Names follow keras-hub's ResNet
without the `_conv` / `_bn` suffix: `stem`, then per block `stack{i}_block{j}_{0,1,2,3}`, where `_0` is
the shortcut convolution (only where the shape changes).
"""

import dataclasses

RESNET_SPECS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
STAGE_FILTERS = (64, 128, 256, 512)  # "planes"; bottlenecks expand by 4
STEM_FILTERS = 64
MIN_SIZE = 32  # smallest frame side the five stride-2 steps accept


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One convolution (+ BN) of a block.

    name: the Keras layer name, e.g. `stack1_block0_2`.
    index: the PyTorch / torchvision index: `conv{index}` / `bn{index}` (0: `downsample.0` / `.1`).
    kind: "shortcut" (1x1, `FrameConvBN`), "pointwise" (1x1 of a bottleneck, `FrameConvBN`) or "unit"
        (a 3x3 convolution: a `GSTBlock` or a baseline unit).
    filters, strides, activation: of that convolution (ReLU after BN or not).
    """

    name: str
    index: int
    kind: str
    filters: int
    strides: int
    activation: bool


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One residual block: stage i (0-3), block j in the stage, its convolutions in network order."""

    stage: int
    index: int
    in_channels: int
    out_channels: int
    strides: int
    convs: tuple  # ConvSpec, shortcut first when present

    @property
    def name(self):
        return f"stack{self.stage}_block{self.index}"

    @property
    def torch_prefix(self):
        """The block's key prefix in torchvision and the authors' checkpoints: `layer{i+1}.{j}`."""
        return f"layer{self.stage + 1}.{self.index}"

    @property
    def shortcut(self):
        return next((c for c in self.convs if c.kind == "shortcut"), None)

    @property
    def body(self):
        """The residual branch, in order (bottleneck: 1x1, unit, 1x1; basic: unit, unit)."""
        return tuple(c for c in self.convs if c.kind != "shortcut")

    @property
    def units(self):
        return tuple(c for c in self.convs if c.kind == "unit")


def check_depth(depth):
    """(block type, blocks per stage) of a ResNet-`depth`; `ParameterError("depth")` for another depth."""
    from keras_gst.errors import ParameterError

    if depth not in RESNET_SPECS:
        raise ParameterError("depth", f"must be one of {sorted(RESNET_SPECS)}, got {depth!r}")
    return RESNET_SPECS[depth]


def block_specs(depth):
    """The residual blocks of a ResNet-`depth`, in network order (a list of `BlockSpec`)."""
    block_type, stage_blocks = check_depth(depth)
    bottleneck = block_type == "bottleneck"
    blocks, channels = [], STEM_FILTERS
    for i, (filters, count) in enumerate(zip(STAGE_FILTERS, stage_blocks)):
        for j in range(count):
            name = f"stack{i}_block{j}"
            strides = 2 if (i > 0 and j == 0) else 1
            out = filters * 4 if bottleneck else filters
            convs = []
            if strides != 1 or channels != out:
                convs.append(ConvSpec(f"{name}_0", 0, "shortcut", out, strides, False))
            if bottleneck:
                convs += [
                    ConvSpec(f"{name}_1", 1, "pointwise", filters, 1, True),
                    ConvSpec(f"{name}_2", 2, "unit", filters, strides, True),
                    ConvSpec(f"{name}_3", 3, "pointwise", out, 1, False),
                ]
            else:
                convs += [
                    ConvSpec(f"{name}_1", 1, "unit", filters, strides, True),
                    ConvSpec(f"{name}_2", 2, "unit", filters, 1, False),
                ]
            blocks.append(BlockSpec(i, j, channels, out, strides, tuple(convs)))
            channels = out
    return blocks


def feature_channels(depth):
    """Channels of the last block's output (512 for ResNet-18/34, 2048 for 50/101)."""
    return block_specs(depth)[-1].out_channels


BLOCKS = ("gst", "c2d", "c3d", "p3d")  # the unit kinds of keras_gst.layers.gst_block.UNITS


def unit_channels(depth):
    """(input channels, output filters) of every 3x3 unit of a ResNet-`depth`, in network order."""
    units = []
    for block in block_specs(depth):
        channels = block.in_channels
        for conv in block.body:
            if conv.kind == "unit":
                units.append((channels, conv.filters))
            channels = conv.filters
    return units


def check_model(depth=50, block="gst", alpha=0.25, beta=0.5, groups=1, num_frames=None, image_size=None):
    """Check a GST-ResNet's arguments without building it (no TensorFlow): the depth, the unit kind, the
    GST channel split (`alpha` x filters and `beta` x input channels whole numbers of channels in every
    unit), C3D `groups` dividing every unit's channels, `num_frames` from 1 to 256 (or None) and `image_size`
    >= `MIN_SIZE`.
    Raises `keras_gst.errors.ParameterError` naming the argument; the model builder, `Recipe` and the
    command line all call this one function, and it checks the units' arguments with the units' own checks
    (`keras_gst.layers.unit_args`)."""
    from keras_gst.checks import check_num_frames
    from keras_gst.errors import ParameterError
    from keras_gst.layers.unit_args import check_alpha, check_beta, check_groups

    check_depth(depth)
    if block not in BLOCKS:
        raise ParameterError("block", f"must be one of {list(BLOCKS)}, got {block!r}")
    units = unit_channels(depth)
    if block == "gst":
        check_alpha(alpha, [filters for _, filters in units])
        check_beta(beta, [cin for cin, _ in units])
    if groups != 1 and block != "c3d":
        raise ParameterError("groups", f"channel groups apply to block 'c3d' only, got groups={groups} with block {block!r}")
    check_groups(groups, [c for unit in units for c in unit])
    check_num_frames(num_frames)
    if image_size is not None and (int(image_size) != image_size or image_size < MIN_SIZE):
        raise ParameterError("image_size", f"frames must be at least {MIN_SIZE}x{MIN_SIZE} (five stride-2 steps), "
                                           f"got {image_size}")
