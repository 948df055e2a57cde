"""Per-frame layers on (B, T, H, W, C) video tensors.

Frames are folded into the batch axis, one 2D op runs on (B*T, H, W, C), and the result is unfolded.
Padding is explicit and symmetric (PyTorch semantics), so strided convolutions match the authors'
PyTorch model and torchvision/keras-hub ResNets exactly (TF "same" pads asymmetrically when strides > 1).
"""

import keras
from keras import ops

CONV_INITIALIZER = {
    # torchvision's ResNet init (kaiming_normal_, mode="fan_out", nonlinearity="relu"), used by the authors.
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}


def fold_frames(x):
    """(B, T, H, W, C) -> (B*T, H, W, C)."""
    shape = ops.shape(x)
    return ops.reshape(x, (-1, shape[2], shape[3], shape[4]))


def unfold_frames(y, num_frames):
    """(B*T, H, W, C) -> (B, T, H, W, C) given T (an int or a scalar tensor)."""
    shape = ops.shape(y)
    return ops.reshape(y, (-1, num_frames, shape[1], shape[2], shape[3]))


def pad_spatial(x, pad):
    """Zero-pad H and W (the two axes before channels) by `pad` on both sides."""
    if pad == 0:
        return x
    widths = [[0, 0]] * (len(x.shape) - 3) + [[pad, pad], [pad, pad], [0, 0]]
    return ops.pad(x, widths)


def conv_output_size(size, kernel_size, stride):
    """Output length of a convolution with symmetric padding kernel_size // 2 (PyTorch formula)."""
    if size is None:
        return None
    return (size + 2 * (kernel_size // 2) - kernel_size) // stride + 1


def _bias_relu(y, bias, relu):
    if bias is not None:
        y = y + bias
    return ops.relu(y) if relu else y


def frame_conv2d(x, kernel, strides, bias=None, relu=False):
    """Per-frame 2D convolution of (B, T, H, W, Cin) with a (k, k, Cin, Cout) kernel, symmetric padding,
    then `+ bias` and a ReLU if given.

    The bias and ReLU run on the folded (B*T, H', W', Cout) conv output, where TF (oneDNN) fuses them into
    the convolution. At stride 1, "same" padding of an odd kernel is symmetric, so no explicit pad (and
    copy) is needed.
    """
    num_frames = ops.shape(x)[1]
    y = fold_frames(x)
    if strides == 1:
        y = ops.conv(y, kernel, strides=1, padding="same")
    else:
        y = ops.conv(pad_spatial(y, kernel.shape[0] // 2), kernel, strides=strides, padding="valid")
    return unfold_frames(_bias_relu(y, bias, relu), num_frames)


TEMPORAL_IMPLS = ("conv3d", "conv2d")


def conv3d(x, kernel, strides, impl="conv3d", bias=None, relu=False, causal=False):
    """3D convolution of (B, T, H, W, Cin) with a (kt, kh, kw, Cin, Cout) kernel, stride only in space,
    symmetric padding kh // 2 in space and, in time, kt // 2 zero frames at both ends ("same", centred) or,
    with `causal`, kt - 1 zero frames before the first (output frame t sees input frames t-kt+1 .. t
    only); then `+ bias` and a ReLU if given.

    impl="conv3d": one Conv3D op. impl="conv2d": the exactly equivalent sum over the kt time taps of
    per-frame Conv2Ds on time-shifted frames (zero frames at the ends), built only from ops that TFLite
    runs in int8 (CONV_2D, ADD, slices), where CONV_3D stays float.
    """
    if impl not in TEMPORAL_IMPLS:
        raise ValueError(f"`temporal_impl` must be one of {TEMPORAL_IMPLS}. Received: {impl!r}")
    pt, ps = kernel.shape[0] // 2, kernel.shape[1] // 2
    front, back = (2 * pt, 0) if causal else (pt, pt)
    if impl == "conv3d":
        # "same" is symmetric for odd kernels at stride 1 (no explicit pad and copy needed), unless causal,
        # and except in bfloat16: TF 2.21's CPU Conv3D filter gradient with "same" padding returns garbage
        # (NaN, 1e24) for T=2 clips, where explicit padding + "valid" is right (tests/models/test_hub.py).
        if strides == 1 and not causal and keras.backend.standardize_dtype(x.dtype) != "bfloat16":
            y = ops.conv(x, kernel, strides=1, padding="same")
        else:
            x = ops.pad(x, [[0, 0], [front, back], [ps, ps], [ps, ps], [0, 0]])
            y = ops.conv(x, kernel, strides=(1, strides, strides), padding="valid")
        return _bias_relu(y, bias, relu)
    num_frames = ops.shape(x)[1]
    if pt:
        zeros = ops.zeros_like(x[:, :1])
        x = ops.concatenate([zeros] * front + [x] + [zeros] * back, axis=1)
    total = None
    for dt in range(kernel.shape[0]):
        frames = x[:, dt : dt + num_frames] if pt else x
        y = frame_conv2d(frames, kernel[dt], strides)
        total = y if total is None else total + y
    return _bias_relu(total, bias, relu)


@keras.saving.register_keras_serializable(package="keras_gst")
class FrameMaxPooling2D(keras.layers.Layer):
    """Per-frame max pooling with symmetric zero padding pool_size // 2.

    Zero padding equals PyTorch's -inf padding here because the input follows a ReLU (>= 0) and every
    window holds at least one real element.

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import FrameMaxPooling2D

    y = FrameMaxPooling2D(pool_size=3, strides=2)(np.zeros((1, 4, 32, 32, 8), "float32"))  # the ResNet stem's pool
    print(tuple(y.shape))  # (1, 4, 16, 16, 8)
    ```
    """

    def __init__(self, pool_size: int = 3, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.strides = int(strides)

    def call(self, x):
        num_frames = ops.shape(x)[1]
        y = pad_spatial(fold_frames(x), self.pool_size // 2)
        y = ops.max_pool(y, self.pool_size, strides=self.strides, padding="valid")
        return unfold_frames(y, num_frames)

    def compute_output_shape(self, input_shape):
        b, t, h, w, c = input_shape
        k, s = self.pool_size, self.strides
        return (b, t, conv_output_size(h, k, s), conv_output_size(w, k, s), c)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides)
        return config


@keras.saving.register_keras_serializable(package="keras_gst")
class FrameGlobalAveragePooling(keras.layers.Layer):
    """(B, T, H, W, C) -> (B, T, C): spatial mean per frame.

    Example:

    ```python
    import numpy as np
    from keras_gst.layers import FrameGlobalAveragePooling

    x = np.arange(4 * 2 * 2, dtype="float32").reshape(1, 4, 2, 2, 1)  # frame t holds 4t .. 4t + 3
    print(np.asarray(FrameGlobalAveragePooling()(x))[0, :, 0])  # [ 1.5  5.5  9.5 13.5]
    ```
    """

    def call(self, x):
        return ops.mean(x, axis=(2, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[4])
