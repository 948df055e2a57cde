"""`ConvUnit`, the base of every convolution unit (conv(s) -> BatchNorm -> [ReLU]), and `FrameConvBN`.

Every unit maps (B, T, H, W, Cin) -> (B, T, H/s, W/s, filters), with the stride only in space, BatchNorm
epsilon 1e-5 and momentum 0.9 (PyTorch's defaults), and no conv biases. The units themselves are in
`keras_gst.layers.gst_block`.

Inference folds each BatchNorm into its convolution (see `ConvUnit.conv_bn`): the conv kernel is scaled
per output channel and the BN becomes a bias, added with the ReLU right after the conv where TF/oneDNN
fuse both into the convolution. Training (BatchNorm on batch statistics) runs conv -> BN -> ReLU.

Every unit takes a Keras `dtype` (policy) and serialises it. Under a mixed policy ("mixed_float16",
"mixed_bfloat16") kernels and BatchNorm statistics stay float32 variables; the BN folding (scale, shift
and the scaled kernel) is computed in float32 and only its result is cast to the compute dtype.

A unit also runs frame by frame (MoViNet's stream mode): `stream_step` takes one frame and the unit's
state (`stream_state_shapes`) and returns the output frame `stream_delay` steps earlier and the new state;
the backbone walks its units this way (`GSTBackbone.stream_step`, `keras_gst.export.StreamingGST`).
"""

import keras
from keras import ops

from keras_gst.layers.frames import CONV_INITIALIZER, TEMPORAL_IMPLS, conv_output_size, frame_conv2d


class ConvUnit(keras.layers.Layer):
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
        """Build the output BatchNorm; records `input_channels` (Cin)."""
        self.input_channels = int(input_shape[-1])
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

    def output_paths(self):
        """(spatial, temporal) channel counts of the output BatchNorm `bn`, in channel order (paper Fig. 4);
        a unit without a channel split counts every channel as spatial."""
        return self.filters, 0

    def load_2d(self, kernel, bn_weights):
        """Initialise the unit from a 2D (k, k, Cin, Cout) kernel and its BatchNorm weights [gamma, beta,
        moving mean, moving variance], as the authors initialise GST from an ImageNet ResNet. Returns the
        variables left at their initialisation."""
        raise NotImplementedError(f"{type(self).__name__} defines no ImageNet initialisation")

    # -- frame-by-frame mode (MoViNet's stream mode): one frame and the unit's state in, state out

    @property
    def stream_delay(self):
        """Steps between a frame's input and its output in `stream_step` (0, or 1 for a centred temporal
        convolution, which needs the next frame)."""
        raise self._no_stream()

    def stream_state_shapes(self, frame_shape):
        """{state name: shape per sample} of `stream_step` for input frames of `frame_shape` (H, W, Cin)."""
        raise self._no_stream()

    def stream_step(self, x, valid, states):
        """One step of the frame-by-frame mode.

        Args:
            x: one input frame as a one-frame clip (B, 1, H, W, Cin).
            valid: (B,) 1.0 for a real frame, 0.0 for a flush step after the last frame (it enters the
                temporal convolutions as zeros, the offline zero padding at the clip end).
            states: {name: (B,) + shape} for each name of `stream_state_shapes` (zeros at the start).

        Returns (y, valid_y, new_states): y (B, 1, H', W', filters) is the output frame of the input
        `stream_delay` steps earlier and `valid_y` its flag. Fed a clip frame by frame, then `stream_delay`
        flush steps, the valid outputs equal `call(clip, training=False)` frame by frame.
        """
        raise self._no_stream()

    def _no_stream(self):
        return ValueError(f"{self.name}: a {type(self).__name__} has no frame-by-frame mode (stream a model "
                          f"built with block='gst' or 'c2d')")

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, strides=self.strides, activation=self.activation, temporal_impl=self.temporal_impl,
            causal=self.causal,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class FrameConvBN(ConvUnit):
    """Per-frame k x k Conv2D -> BN -> [ReLU] on a (B, T, H, W, C) video (a PyTorch Conv3d with kernel
    (1, k, k), stride (1, s, s), padding (0, k//2, k//2), then BatchNorm3d). Weights: `kernel`
    (k, k, Cin, filters), the Keras Conv2D layout, and the BatchNormalization sublayer `bn`.

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import FrameConvBN

    conv = FrameConvBN(16, kernel_size=1, strides=2)  # a ResNet shortcut: 1x1, stride 2, per frame
    y = conv(np.zeros((1, 4, 32, 32, 8), "float32"))
    print(tuple(y.shape), conv.kernel.shape)  # (1, 4, 16, 16, 16) (1, 1, 8, 16)
    ```
    """

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, activation: bool = True, **kwargs):
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

    def load_2d(self, kernel, bn_weights):
        """Copy the 2D kernel and its BatchNorm (stem, 1x1, shortcut and C2D convolutions)."""
        self.kernel.assign(kernel)
        self.bn.set_weights(bn_weights)
        return []

    @property
    def stream_delay(self):
        return 0  # per frame: no temporal context, no state

    def stream_state_shapes(self, frame_shape):
        return {}

    def stream_step(self, x, valid, states):
        return self(x, training=False), valid, {}

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size)
        return config
