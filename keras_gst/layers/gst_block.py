"""Convolution units: conv(s) -> BatchNorm -> [ReLU], the building blocks of a (GST-)ResNet.

Every unit maps (B, T, H, W, Cin) -> (B, T, H/s, W/s, filters), with the stride only in space, BatchNorm
epsilon 1e-5 and momentum 0.9 (PyTorch's defaults), and no conv biases:

- `FrameConvBN`: a per-frame k x k Conv2D (the ResNet stem, 1x1 and shortcut convolutions).
- `GSTBlock`: the paper's grouped spatial-temporal unit (Fig. 3c/d; beta=1 is GST-Large, Fig. 3b).
- `C2DBlock`: a per-frame 3x3 Conv2D (TSN-style 2D network).
- `C3DBlock`: a 3x3x3 Conv3D (with `groups`, the C3D-groups baseline).
- `P3DBlock`: P3D-A, 1x3x3 conv -> BN -> ReLU -> 3x1x1 conv.

Inference folds each BatchNorm into its convolution (see `_ConvUnit.conv_bn`): the conv kernel is scaled
per output channel and the BN becomes a bias, added with the ReLU right after the conv where TF/oneDNN
fuse both into the convolution. Training (BatchNorm on batch statistics) runs conv -> BN -> ReLU.

Every unit takes a Keras `dtype` (policy) and serialises it. Under a mixed policy ("mixed_float16",
"mixed_bfloat16") kernels and BatchNorm statistics stay float32 variables; the BN folding (scale, shift
and the scaled kernel) is computed in float32 and only its result is cast to the compute dtype.
"""

import keras
from keras import ops

from keras_gst.layers.frames import CONV_INITIALIZER, TEMPORAL_IMPLS, conv3d, conv_output_size, frame_conv2d
from keras_gst.layers.unit_args import check_alpha, check_beta, check_groups


class _ConvUnit(keras.layers.Layer):
    """Shared plumbing: validation, the output BatchNorm ("bn"), optional ReLU, shapes and config.

    `temporal_impl` picks how temporal convolutions run: "conv3d" (one Conv3D op) or "conv2d" (the
    exactly equivalent sum of per-frame Conv2Ds on time-shifted frames, for all-int8 TFLite).
    `causal`: temporal convolutions see only the current and past frames (zero padding before the
    first frame only), so a stream needs no look-ahead (see `keras_gst.export.streaming`).
    """

    kernel_size = 3

    def __init__(self, filters, strides=1, activation=True, temporal_impl="conv3d", causal=False, **kwargs):
        super().__init__(**kwargs)
        if int(filters) != filters or filters < 1:
            raise ValueError(f"`filters` must be a positive integer. Received: filters={filters}")
        if strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2 (spatial only). Received: strides={strides}")
        self.filters = int(filters)
        self.strides = int(strides)
        self.activation = bool(activation)
        if temporal_impl not in TEMPORAL_IMPLS:
            raise ValueError(f"`temporal_impl` must be one of {TEMPORAL_IMPLS}. Received: {temporal_impl!r}")
        self.temporal_impl = temporal_impl
        self.causal = bool(causal)
        self.bn = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn", dtype=self.dtype_policy)

    def _kernel(self, name, shape):
        # autocast=False: `conv_bn` reads the float32 variable and casts explicitly after the BN folding
        return self.add_weight(
            name=name, shape=shape, initializer=keras.initializers.get(CONV_INITIALIZER), autocast=False
        )

    def _build_bn(self, input_shape):
        self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def conv_bn(self, convs, bn, training, activation):
        """Convolutions whose outputs, concatenated on channels in order, go through `bn` and a ReLU if
        `activation`.

        `convs`: a list of (conv, kernel); `conv(kernel, bias, relu)` convolves with `kernel`, whose last
        axis holds its output channels, and adds `bias` and the ReLU when given.

        While `bn` normalises with batch statistics (training and trainable) this is conv -> concat -> BN
        -> ReLU. Otherwise `bn` is an affine map per channel, folded into the convolutions: kernel *
        gamma / sqrt(var + eps) and bias beta - mean * gamma / sqrt(var + eps) (the same formula as
        Keras' BatchNormalization), with gradients still reaching the kernels (a frozen BN). The folding
        runs in float32 whatever the compute dtype; kernels and bias are cast to it afterwards.
        """
        dtype = self.compute_dtype
        if training and bn.trainable:
            outputs = [conv(ops.cast(kernel, dtype), None, False) for conv, kernel in convs]
            y = bn(outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1), training=training)
            return ops.relu(y) if activation else y
        scale = ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon) * ops.cast(bn.gamma, "float32")
        shift = ops.cast(bn.beta, "float32") - ops.cast(bn.moving_mean, "float32") * scale
        outputs, start = [], 0
        for conv, kernel in convs:
            stop = start + kernel.shape[-1]
            folded = ops.cast(ops.cast(kernel, "float32") * scale[start:stop], dtype)
            outputs.append(conv(folded, ops.cast(shift[start:stop], dtype), activation))
            start = stop
        return outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        k, s = self.kernel_size, self.strides
        return (b, t, conv_output_size(h, k, s), conv_output_size(w, k, s), self.filters)

    def _positions(self, input_shape):
        """Output positions (T * H' * W') for one clip of shape (T, H, W, C)."""
        t, h, w, _ = input_shape
        k, s = self.kernel_size, self.strides
        return t * conv_output_size(h, k, s) * conv_output_size(w, k, s)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, strides=self.strides, activation=self.activation, temporal_impl=self.temporal_impl,
            causal=self.causal,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class FrameConvBN(_ConvUnit):
    """Per-frame k x k Conv2D -> BN -> [ReLU] on a (B, T, H, W, C) video (a PyTorch Conv3d with kernel
    (1, k, k), stride (1, s, s), padding (0, k//2, k//2), then BatchNorm3d). Weights: `kernel`
    (k, k, Cin, filters), the Keras Conv2D layout, and the BatchNormalization sublayer `bn`."""

    def __init__(self, filters, kernel_size=3, strides=1, activation=True, **kwargs):
        if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f"`kernel_size` must be a positive odd integer. Received: kernel_size={kernel_size}")
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self._kernel("kernel", (k, k, input_shape[-1], self.filters))
        self._build_bn(input_shape)

    def call(self, x, training=None):
        def conv(kernel, bias, relu):
            return frame_conv2d(x, kernel, self.strides, bias, relu)

        return self.conv_bn([(conv, self.kernel)], self.bn, training, self.activation)

    def macs(self, input_shape):
        k = self.kernel_size
        return self._positions(input_shape) * k * k * input_shape[-1] * self.filters

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTBlock(_ConvUnit):
    """Grouped Spatial-Temporal aggregation (Luo & Yuille, ICCV 2019, Sec. 3.3).

    The input channels are split: the spatial path, a per-frame 3x3 Conv2D, reads the first `beta * Cin`
    channels and writes `(1 - alpha) * filters`; the temporal path, a 3x3x3 Conv3D ("same" in time),
    reads the remaining channels (all channels when `beta == 1`, GST-Large) and writes `alpha * filters`.
    The outputs are concatenated [spatial, temporal] and share one BatchNorm, then a ReLU.

    Args:
        filters: output channels.
        alpha: share of temporal output channels, in (0, 1); `alpha * filters` must be an integer
            (`keras_gst.layers.unit_args.check_alpha`).
        beta: share of input channels read by the spatial path, in (0, 1]. 0.5 is GST (first half spatial,
            second half temporal); 1.0 is GST-Large (both paths read every channel) (`check_beta`).
        strides: spatial stride (1 or 2) of both paths; time is never strided.
        activation: apply the ReLU after the BatchNorm (False for the last conv of a basic block).

    Weights: `spatial_kernel` (3, 3, beta*Cin, (1-alpha)*filters), `temporal_kernel` (3, 3, 3, Cin_t,
    alpha*filters), and the BatchNormalization sublayer `bn` over all `filters` channels.
    """

    def __init__(self, filters, alpha=0.25, beta=0.5, strides=1, activation=True, **kwargs):
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        self.alpha = float(check_alpha(alpha, (self.filters,)))
        self.beta = float(check_beta(beta))
        self.temporal_filters = int(round(self.alpha * self.filters))
        self.spatial_filters = self.filters - self.temporal_filters

    def split_channels(self, channels):
        """(spatial input channels, temporal input channels) for `channels` input channels."""
        if self.beta == 1.0:
            return channels, channels
        spatial = int(round(check_beta(self.beta, (channels,)) * channels))
        return spatial, channels - spatial

    def build(self, input_shape):
        cin_s, cin_t = self.split_channels(input_shape[-1])
        self.spatial_kernel = self._kernel("spatial_kernel", (3, 3, cin_s, self.spatial_filters))
        self.temporal_kernel = self._kernel("temporal_kernel", (3, 3, 3, cin_t, self.temporal_filters))
        self._build_bn(input_shape)

    def split_inputs(self, x):
        """(spatial path input, temporal path input): the first beta*C channels and the rest, or `x`
        twice for GST-Large (beta == 1)."""
        if self.beta == 1.0:
            return x, x
        # one Split op: its gradient is one concat, where two slices would each scatter into a zero tensor
        xs, xt = ops.split(x, [self.spatial_kernel.shape[2]], axis=-1)
        return xs, xt

    def call(self, x, training=None):
        xs, xt = self.split_inputs(x)

        def spatial(kernel, bias, relu):
            return frame_conv2d(xs, kernel, self.strides, bias, relu)

        def temporal(kernel, bias, relu):
            return conv3d(xt, kernel, self.strides, self.temporal_impl, bias, relu, self.causal)

        convs = [(spatial, self.spatial_kernel), (temporal, self.temporal_kernel)]
        return self.conv_bn(convs, self.bn, training, self.activation)

    def macs(self, input_shape):
        cin_s, cin_t = self.split_channels(input_shape[-1])
        n = self._positions(input_shape)
        return n * (9 * cin_s * self.spatial_filters + 27 * cin_t * self.temporal_filters)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class C2DBlock(FrameConvBN):
    """Per-frame 3x3 Conv2D -> BN -> [ReLU] (the C2D / TSN baseline). Weight: `kernel` (3, 3, Cin, filters)."""


@keras.saving.register_keras_serializable(package="keras_gst")
class C3DBlock(_ConvUnit):
    """3x3x3 Conv3D -> BN -> [ReLU] (the C3D baseline); `groups` > 1 gives C3D-groups.

    Grouped convolution runs as one Conv3D per channel group on channel slices (grouped convs are not
    TFLite builtins and not supported by every TF CPU kernel). Weight: `kernel` (3, 3, 3, Cin/groups,
    filters), output filters of group g read input channels of group g (as PyTorch's `groups=`).
    """

    def __init__(self, filters, strides=1, groups=1, activation=True, **kwargs):
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        self.groups = check_groups(groups, (self.filters,))

    def build(self, input_shape):
        check_groups(self.groups, (input_shape[-1],))
        self.kernel = self._kernel("kernel", (3, 3, 3, input_shape[-1] // self.groups, self.filters))
        self._build_bn(input_shape)

    def call(self, x, training=None):
        cin, cout = self.kernel.shape[3], self.filters // self.groups

        def group_conv(g):
            xg = x if self.groups == 1 else x[..., g * cin : (g + 1) * cin]
            return lambda kernel, bias, relu: conv3d(xg, kernel, self.strides, self.temporal_impl, bias, relu, self.causal)

        if self.groups == 1:
            convs = [(group_conv(0), self.kernel)]
        else:
            convs = [(group_conv(g), self.kernel[..., g * cout : (g + 1) * cout]) for g in range(self.groups)]
        return self.conv_bn(convs, self.bn, training, self.activation)

    def macs(self, input_shape):
        return self._positions(input_shape) * 27 * (input_shape[-1] // self.groups) * self.filters

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class P3DBlock(_ConvUnit):
    """P3D-A: per-frame 3x3 conv -> BN (`spatial_bn`) -> ReLU -> 3x1x1 temporal conv -> BN -> [ReLU].

    Weights: `spatial_kernel` (3, 3, Cin, filters), `temporal_kernel` (3, 1, 1, filters, filters).
    """

    def __init__(self, filters, strides=1, activation=True, **kwargs):
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        self.spatial_bn = keras.layers.BatchNormalization(
            epsilon=1e-5, momentum=0.9, name="spatial_bn", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        self.spatial_kernel = self._kernel("spatial_kernel", (3, 3, input_shape[-1], self.filters))
        self.temporal_kernel = self._kernel("temporal_kernel", (3, 1, 1, self.filters, self.filters))
        self.spatial_bn.build(tuple(input_shape[:-1]) + (self.filters,))
        self._build_bn(input_shape)

    def call(self, x, training=None):
        def spatial(kernel, bias, relu):
            return frame_conv2d(x, kernel, self.strides, bias, relu)

        y = self.conv_bn([(spatial, self.spatial_kernel)], self.spatial_bn, training, True)

        def temporal(kernel, bias, relu):
            return conv3d(y, kernel, 1, self.temporal_impl, bias, relu, self.causal)

        return self.conv_bn([(temporal, self.temporal_kernel)], self.bn, training, self.activation)

    def macs(self, input_shape):
        return self._positions(input_shape) * (9 * input_shape[-1] + 3 * self.filters) * self.filters


UNITS = {"gst": GSTBlock, "c2d": C2DBlock, "c3d": C3DBlock, "p3d": P3DBlock}
