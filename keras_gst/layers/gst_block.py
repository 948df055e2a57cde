"""Convolution units: conv(s) -> BatchNorm -> [ReLU], the building blocks of a (GST-)ResNet.

Every unit maps (B, T, H, W, Cin) -> (B, T, H/s, W/s, filters) with the stride only in space, and shares
the plumbing of `keras_gst.layers.conv_unit.ConvUnit` (BatchNorm folding at inference, dtype policies, the
frame-by-frame mode):

- `FrameConvBN`: a per-frame k x k Conv2D (the ResNet stem, 1x1 and shortcut convolutions; defined in
  `keras_gst.layers.conv_unit`, importable from here).
- `GSTBlock`: the paper's grouped spatial-temporal unit (Fig. 3c/d; beta=1 is GST-Large, Fig. 3b).
- `C2DBlock`: a per-frame 3x3 Conv2D (TSN-style 2D network).
- `C3DBlock`: a 3x3x3 Conv3D (with `groups`, the C3D-groups baseline).
- `P3DBlock`: P3D-A, 1x3x3 conv -> BN -> ReLU -> 3x1x1 conv.

GST and C2D units run frame by frame (`stream_step`); C3D and P3D have no frame-by-frame mode.
Each unit also knows how the authors initialise it from a 2D ImageNet kernel (`load_2d`).
"""

import keras
import numpy as np
from keras import ops

from keras_gst.layers.conv_unit import ConvUnit, FrameConvBN  # FrameConvBN: importable from here
from keras_gst.layers.frames import conv3d, frame_conv2d
from keras_gst.layers.unit_args import check_alpha, check_beta, check_groups


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTBlock(ConvUnit):
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

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import GSTBlock

    block = GSTBlock(16, alpha=0.25, beta=0.5, strides=2)
    y = block(np.zeros((1, 4, 32, 32, 8), "float32"))
    print(tuple(y.shape))  # (1, 4, 16, 16, 16)
    print(block.spatial_kernel.shape, block.temporal_kernel.shape)  # (3, 3, 4, 12) (3, 3, 3, 4, 4)
    ```
    """

    def __init__(self, filters: int, alpha: float = 0.25, beta: float = 0.5, strides: int = 1, activation: bool = True,
                 **kwargs):
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

    def output_paths(self):
        return self.spatial_filters, self.temporal_filters

    def load_2d(self, kernel, bn_weights):
        """The spatial kernel takes the 2D kernel's first (1-alpha)*filters outputs and first beta*Cin inputs;
        the BN takes the whole 2D BN; the temporal kernel keeps its initialisation."""
        cin_s = self.spatial_kernel.shape[2]
        self.spatial_kernel.assign(kernel[:, :, :cin_s, : self.spatial_filters])
        self.bn.set_weights(bn_weights)
        return [self.temporal_kernel]

    @property
    def stream_delay(self):
        return 0 if self.causal else 1  # a centred unit emits the middle frame of its window

    def stream_state_shapes(self, frame_shape):
        """The past kt - 1 input frames `h0`, `h1` (one (H, W, Cin) tensor each) and, centred, the `valid`
        flag of the previous frame."""
        shapes = {f"h{i}": tuple(frame_shape) for i in range(self.temporal_kernel.shape[0] - 1)}
        if not self.causal:
            shapes["valid"] = ()
        return shapes

    def stream_step(self, x, valid, states):
        """Given h[s] and the state (h[s-2], h[s-1]): centred, output frame s-1, ``temporal[s-1] = sum_dt
        conv2d(h[s-2+dt], k[dt])`` and ``spatial[s-1] = conv2d(h[s-1])``; causal, frame s, ``temporal[s]``
        the same sum and ``spatial[s] = conv2d(h[s])``. An invalid frame enters as zeros."""
        past = self.temporal_kernel.shape[0] - 1
        window = [states[f"h{i}"][:, None] for i in range(past)]
        window.append(x * ops.convert_to_tensor(valid)[:, None, None, None, None])  # h[s-2], h[s-1], h[s]
        new = {f"h{i}": window[i + 1][:, 0] for i in range(past)}
        xs = self.split_inputs(window[-1] if self.causal else window[past // 2])[0]
        xts = [self.split_inputs(frame)[1] for frame in window]

        def spatial(kernel, bias, relu):
            return frame_conv2d(xs, kernel, self.strides, bias, relu)

        def temporal(kernel, bias, relu):
            y = sum(frame_conv2d(xts[dt], kernel[dt], self.strides) for dt in range(kernel.shape[0])) + bias
            return ops.relu(y) if relu else y

        y = self.conv_bn([(spatial, self.spatial_kernel), (temporal, self.temporal_kernel)], self.bn, False,
                         self.activation)
        if self.causal:
            return y, valid, new
        new["valid"] = valid
        return y, states["valid"], new

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class C2DBlock(FrameConvBN):
    """Per-frame 3x3 Conv2D -> BN -> [ReLU] (the C2D / TSN baseline). Weight: `kernel` (3, 3, Cin, filters).

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import C2DBlock

    block = C2DBlock(16)
    y = block(np.zeros((1, 4, 32, 32, 8), "float32"))
    print(tuple(y.shape), block.kernel.shape)  # (1, 4, 32, 32, 16) (3, 3, 8, 16)
    ```
    """


@keras.saving.register_keras_serializable(package="keras_gst")
class C3DBlock(ConvUnit):
    """3x3x3 Conv3D -> BN -> [ReLU] (the C3D baseline); `groups` > 1 gives C3D-groups.

    Grouped convolution runs as one Conv3D per channel group on channel slices (grouped convs are not
    TFLite builtins and not supported by every TF CPU kernel). Weight: `kernel` (3, 3, 3, Cin/groups,
    filters), output filters of group g read input channels of group g (as PyTorch's `groups=`).

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import C3DBlock

    block = C3DBlock(16, groups=2)  # C3D-groups
    y = block(np.zeros((1, 4, 32, 32, 8), "float32"))
    print(tuple(y.shape), block.kernel.shape)  # (1, 4, 32, 32, 16) (3, 3, 3, 4, 16)
    ```
    """

    def __init__(self, filters: int, strides: int = 1, groups: int = 1, activation: bool = True, **kwargs):
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

    def load_2d(self, kernel, bn_weights):
        """No authors' initialisation exists: the 2D kernel inflated I3D-style (replicated over the 3 time
        taps, divided by 3), per channel group; the BN copied."""
        cin, cout = self.kernel.shape[3], self.filters // self.groups
        grouped = np.concatenate(
            [kernel[:, :, g * cin : (g + 1) * cin, g * cout : (g + 1) * cout] for g in range(self.groups)], axis=-1
        )
        self.kernel.assign(np.repeat(grouped[None], 3, axis=0) / 3.0)
        self.bn.set_weights(bn_weights)
        return []

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class P3DBlock(ConvUnit):
    """P3D-A: per-frame 3x3 conv -> BN (`spatial_bn`) -> ReLU -> 3x1x1 temporal conv -> BN -> [ReLU].

    Weights: `spatial_kernel` (3, 3, Cin, filters), `temporal_kernel` (3, 1, 1, filters, filters).

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import P3DBlock

    block = P3DBlock(16, strides=2)
    y = block(np.zeros((1, 4, 32, 32, 8), "float32"))
    print(tuple(y.shape), block.temporal_kernel.shape)  # (1, 4, 16, 16, 16) (3, 1, 1, 16, 16)
    ```
    """

    def __init__(self, filters: int, strides: int = 1, activation: bool = True, **kwargs):
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

    def load_2d(self, kernel, bn_weights):
        """The spatial kernel and its BN copied; the temporal kernel and the output BN keep their initialisation."""
        self.spatial_kernel.assign(kernel)
        self.spatial_bn.set_weights(bn_weights)
        return [self.temporal_kernel] + list(self.bn.weights)


UNITS = {"gst": GSTBlock, "c2d": C2DBlock, "c3d": C3DBlock, "p3d": P3DBlock}
