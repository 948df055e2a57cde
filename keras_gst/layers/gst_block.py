"""The 3x3 convolution units of a (GST-)ResNet block: GST and the paper's baselines (Table 2).

Every unit maps (B, T, H, W, Cin) -> (B, T, H/s, W/s, filters) as conv(s) -> BatchNorm -> [ReLU], with the
stride only in space, BatchNorm epsilon 1e-5 and momentum 0.9 (PyTorch's defaults), and no conv biases:

- `GSTBlock`: the paper's grouped spatial-temporal unit (Fig. 3c/d; beta=1 is GST-Large, Fig. 3b).
- `C2DBlock`: a per-frame 3x3 Conv2D (TSN-style 2D network).
- `C3DBlock`: a 3x3x3 Conv3D (with `groups`, the C3D-groups baseline).
- `P3DBlock`: P3D-A, 1x3x3 conv -> BN -> ReLU -> 3x1x1 conv.
"""

import keras
from keras import ops

from keras_gst.layers.frames import CONV_INITIALIZER, TEMPORAL_IMPLS, conv3d, conv_output_size, frame_conv2d


class _ConvUnit(keras.layers.Layer):
    """Shared plumbing: validation, the output BatchNorm ("bn"), optional ReLU, shapes and config.

    `temporal_impl` picks how temporal convolutions run: "conv3d" (one Conv3D op) or "conv2d" (the
    exactly equivalent sum of per-frame Conv2Ds on time-shifted frames, for all-int8 TFLite).
    """

    def __init__(self, filters, strides=1, activation=True, temporal_impl="conv3d", **kwargs):
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
        self.bn = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn", dtype=self.dtype_policy)

    def _kernel(self, name, shape):
        return self.add_weight(name=name, shape=shape, initializer=keras.initializers.get(CONV_INITIALIZER))

    def _build_bn(self, input_shape):
        self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def finish(self, y, training):
        """The unit's output BatchNorm, then the ReLU if `activation`."""
        y = self.bn(y, training=training)
        return ops.relu(y) if self.activation else y

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        return (b, t, conv_output_size(h, 3, self.strides), conv_output_size(w, 3, self.strides), self.filters)

    def _positions(self, input_shape):
        """Output positions (T * H' * W') for one clip of shape (T, H, W, C)."""
        t, h, w, _ = input_shape
        return t * conv_output_size(h, 3, self.strides) * conv_output_size(w, 3, self.strides)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, strides=self.strides, activation=self.activation, temporal_impl=self.temporal_impl
        )
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
        alpha: share of temporal output channels, in (0, 1); `alpha * filters` must be an integer.
        beta: share of input channels read by the spatial path, in (0, 1]. 0.5 is GST (first half spatial,
            second half temporal); 1.0 is GST-Large (both paths read every channel).
        strides: spatial stride (1 or 2) of both paths; time is never strided.
        activation: apply the ReLU after the BatchNorm (False for the last conv of a basic block).

    Weights: `spatial_kernel` (3, 3, beta*Cin, (1-alpha)*filters), `temporal_kernel` (3, 3, 3, Cin_t,
    alpha*filters), and the BatchNormalization sublayer `bn` over all `filters` channels.
    """

    def __init__(self, filters, alpha=0.25, beta=0.5, strides=1, activation=True, **kwargs):
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"`alpha` (share of temporal output channels) must be in (0, 1). Received: alpha={alpha}")
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"`beta` (share of input channels for the spatial path) must be in (0, 1]. Received: beta={beta}")
        temporal = alpha * self.filters
        if abs(temporal - round(temporal)) > 1e-9 or round(temporal) == 0:
            raise ValueError(
                f"`alpha * filters` must be a positive integer (the temporal output channels). "
                f"Received: alpha={alpha}, filters={self.filters} -> {temporal}"
            )
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.temporal_filters = int(round(temporal))
        self.spatial_filters = self.filters - self.temporal_filters

    def split_channels(self, channels):
        """(spatial input channels, temporal input channels) for `channels` input channels."""
        if self.beta == 1.0:
            return channels, channels
        spatial = self.beta * channels
        if abs(spatial - round(spatial)) > 1e-9 or not 0 < round(spatial) < channels:
            raise ValueError(
                f"`beta * input channels` must be an integer strictly between 0 and the channel count. "
                f"Received: beta={self.beta}, input channels={channels} -> {spatial}"
            )
        spatial = int(round(spatial))
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
        cin_s = self.spatial_kernel.shape[2]
        return x[..., :cin_s], x[..., cin_s:]

    def call(self, x, training=None):
        xs, xt = self.split_inputs(x)
        spatial = frame_conv2d(xs, self.spatial_kernel, self.strides)
        temporal = conv3d(xt, self.temporal_kernel, self.strides, self.temporal_impl)
        return self.finish(ops.concatenate([spatial, temporal], axis=-1), training)

    def macs(self, input_shape):
        cin_s, cin_t = self.split_channels(input_shape[-1])
        n = self._positions(input_shape)
        return n * (9 * cin_s * self.spatial_filters + 27 * cin_t * self.temporal_filters)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class C2DBlock(_ConvUnit):
    """Per-frame 3x3 Conv2D -> BN -> [ReLU] (the C2D / TSN baseline). Weight: `kernel` (3, 3, Cin, filters)."""

    def build(self, input_shape):
        self.kernel = self._kernel("kernel", (3, 3, input_shape[-1], self.filters))
        self._build_bn(input_shape)

    def call(self, x, training=None):
        return self.finish(frame_conv2d(x, self.kernel, self.strides), training)

    def macs(self, input_shape):
        return self._positions(input_shape) * 9 * input_shape[-1] * self.filters


@keras.saving.register_keras_serializable(package="keras_gst")
class C3DBlock(_ConvUnit):
    """3x3x3 Conv3D -> BN -> [ReLU] (the C3D baseline); `groups` > 1 gives C3D-groups.

    Grouped convolution runs as one Conv3D per channel group on channel slices (grouped convs are not
    TFLite builtins and not supported by every TF CPU kernel). Weight: `kernel` (3, 3, 3, Cin/groups,
    filters), output filters of group g read input channels of group g (as PyTorch's `groups=`).
    """

    def __init__(self, filters, strides=1, groups=1, activation=True, **kwargs):
        super().__init__(filters, strides=strides, activation=activation, **kwargs)
        if int(groups) != groups or groups < 1 or self.filters % groups:
            raise ValueError(f"`groups` must be a positive integer dividing filters={filters}. Received: groups={groups}")
        self.groups = int(groups)

    def build(self, input_shape):
        if input_shape[-1] % self.groups:
            raise ValueError(f"Input channels {input_shape[-1]} are not divisible by groups={self.groups}.")
        self.kernel = self._kernel("kernel", (3, 3, 3, input_shape[-1] // self.groups, self.filters))
        self._build_bn(input_shape)

    def call(self, x, training=None):
        if self.groups == 1:
            y = conv3d(x, self.kernel, self.strides, self.temporal_impl)
        else:
            cin, cout = self.kernel.shape[3], self.filters // self.groups
            y = ops.concatenate(
                [
                    conv3d(
                        x[..., g * cin : (g + 1) * cin],
                        self.kernel[..., g * cout : (g + 1) * cout],
                        self.strides,
                        self.temporal_impl,
                    )
                    for g in range(self.groups)
                ],
                axis=-1,
            )
        return self.finish(y, training)

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
        y = ops.relu(self.spatial_bn(frame_conv2d(x, self.spatial_kernel, self.strides), training=training))
        return self.finish(conv3d(y, self.temporal_kernel, 1, self.temporal_impl), training)

    def macs(self, input_shape):
        return self._positions(input_shape) * (9 * input_shape[-1] + 3 * self.filters) * self.filters


UNITS = {"gst": GSTBlock, "c2d": C2DBlock, "c3d": C3DBlock, "p3d": P3DBlock}
