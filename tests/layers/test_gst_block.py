"""GSTBlock and the baseline units against an independent NumPy reference (the authors' definition)."""

import json

import keras
import numpy as np
import pytest

from keras_gst.layers import C2DBlock, C3DBlock, FrameConvBN, GSTBlock, P3DBlock


def np_conv(x, kernel, stride):
    """Reference 3D conv: x (B,T,H,W,C), kernel (kt,kh,kw,Ci,Co), zero padding k//2, stride (1,s,s)."""
    kt, kh, kw, _, co = kernel.shape
    pt, ph, pw = kt // 2, kh // 2, kw // 2
    xp = np.pad(x, [(0, 0), (pt, pt), (ph, ph), (pw, pw), (0, 0)])
    b, t, h, w, _ = x.shape
    ho, wo = (h + 2 * ph - kh) // stride + 1, (w + 2 * pw - kw) // stride + 1
    out = np.zeros((b, t, ho, wo, co), np.float64)
    for dt in range(kt):
        for dy in range(kh):
            for dx in range(kw):
                patch = xp[:, dt : dt + t, dy : dy + stride * ho : stride, dx : dx + stride * wo : stride]
                out += np.einsum("bthwc,cd->bthwd", patch, kernel[dt, dy, dx])
    return out


def np_bn(x, bn):
    gamma, beta, mean, var = (w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in bn.weights)
    return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta


def randomise(layer, rng):
    for w in layer.weights:
        value = rng.normal(size=w.shape)
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value.astype("float32"))


@pytest.mark.parametrize("beta,strides", [(0.5, 1), (0.5, 2), (1.0, 1), (1.0, 2)])
def test_gst_block_matches_numpy_reference(beta, strides):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6, 8)).astype("float32")
    layer = GSTBlock(8, alpha=0.25, beta=beta, strides=strides)
    layer.build(x.shape)
    randomise(layer, rng)
    y = keras.ops.convert_to_numpy(layer(x, training=False))

    xs, xt = (x, x) if beta == 1.0 else (x[..., :4], x[..., 4:])
    spatial = np_conv(xs, layer.spatial_kernel.numpy()[None], strides)  # (1,3,3) kernel: per frame
    temporal = np_conv(xt, layer.temporal_kernel.numpy(), strides)
    expected = np.maximum(np_bn(np.concatenate([spatial, temporal], -1), layer.bn), 0)
    assert y.shape == expected.shape == (2, 3, -(-7 // strides), -(-6 // strides), 8)
    np.testing.assert_allclose(y, expected, atol=1e-4, rtol=1e-4)
    # shapes of the two paths: first half -> 6 spatial filters, second half -> 2 temporal filters
    assert layer.spatial_kernel.shape == (3, 3, 8 if beta == 1.0 else 4, 6)
    assert layer.temporal_kernel.shape == (3, 3, 3, 8 if beta == 1.0 else 4, 2)


def test_temporal_path_sees_neighbouring_frames_only_through_temporal_channels():
    """Changing frame 0 changes frame 1's output only in the temporal channels, and frame 2 not at all."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 5, 5, 8)).astype("float32")
    layer = GSTBlock(8, alpha=0.25, activation=False)
    layer.build(x.shape)
    x2 = x.copy()
    x2[:, 0] += 1.0
    d = np.abs(keras.ops.convert_to_numpy(layer(x2) - layer(x)))
    assert d[:, 1, ..., :6].max() == 0.0 and d[:, 1, ..., 6:].max() > 1e-3
    assert d[:, 2].max() == 0.0


@pytest.mark.parametrize("groups", [1, 2])
def test_c3d_block_matches_reference(groups):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 5, 5, 4)).astype("float32")
    layer = C3DBlock(6, groups=groups, strides=2)
    layer.build(x.shape)
    randomise(layer, rng)
    k = layer.kernel.numpy()
    if groups == 1:
        conv = np_conv(x, k, 2)
    else:
        conv = np.concatenate([np_conv(x[..., :2], k[..., :3], 2), np_conv(x[..., 2:], k[..., 3:], 2)], -1)
    expected = np.maximum(np_bn(conv, layer.bn), 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-4, rtol=1e-4)


def test_p3d_and_c2d_blocks_match_reference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 3, 5, 5, 4)).astype("float32")
    p3d = P3DBlock(6, activation=False)
    p3d.build(x.shape)
    randomise(p3d, rng)
    mid = np.maximum(np_bn(np_conv(x, p3d.spatial_kernel.numpy()[None], 1), p3d.spatial_bn), 0)
    expected = np_bn(np_conv(mid, p3d.temporal_kernel.numpy(), 1), p3d.bn)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(p3d(x)), expected, atol=1e-4, rtol=1e-4)

    c2d = C2DBlock(6, strides=2)
    c2d.build(x.shape)
    randomise(c2d, rng)
    expected = np.maximum(np_bn(np_conv(x, c2d.kernel.numpy()[None], 2), c2d.bn), 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(c2d(x)), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: GSTBlock(8, alpha=0.25, beta=1.0),
        lambda: GSTBlock(8, alpha=0.5, temporal_impl="conv2d"),
        lambda: C3DBlock(8, groups=2),
        lambda: P3DBlock(8, temporal_impl="conv2d"),
    ],
)
def test_temporal_impl_conv2d_is_equivalent(layer):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 6, 6, 8)).astype("float32")
    a = layer()
    a.build(x.shape)
    randomise(a, rng)
    config = a.get_config()
    config["temporal_impl"] = "conv2d" if config["temporal_impl"] == "conv3d" else "conv3d"
    b = type(a).from_config(config)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(a(x)), keras.ops.convert_to_numpy(b(x)), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("kernel_size,strides,activation", [(1, 1, True), (1, 2, False), (3, 2, True), (7, 2, True)])
def test_frame_conv_bn_matches_numpy_reference(kernel_size, strides, activation):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 9, 8, 4)).astype("float32")
    layer = FrameConvBN(6, kernel_size, strides=strides, activation=activation)
    layer.build(x.shape)
    randomise(layer, rng)
    expected = np_bn(np_conv(x, layer.kernel.numpy()[None], strides), layer.bn)
    expected = np.maximum(expected, 0) if activation else expected
    y = keras.ops.convert_to_numpy(layer(x, training=False))
    assert y.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, expected, atol=1e-4, rtol=1e-4)
    assert layer.macs(x.shape[1:]) == 3 * expected.shape[2] * expected.shape[3] * 6 * kernel_size**2 * 4


def _batch_stat_bn(x, bn):
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    mean, var = x.mean(axis=(0, 1, 2, 3)), x.var(axis=(0, 1, 2, 3))
    return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta, mean, var


@pytest.mark.parametrize("make", [lambda: GSTBlock(8, alpha=0.25), lambda: FrameConvBN(8, 1), lambda: C3DBlock(8, groups=2)])
def test_training_uses_batch_statistics_and_a_frozen_bn_trains_the_folded_kernel(make):
    """training=True: BN on batch statistics, moving averages updated. A frozen (non-trainable) BN in
    training is folded as at inference, its statistics stay, and the gradient reaches the conv kernels."""
    import tensorflow as tf

    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 6, 6, 8)).astype("float32")
    layer = make()
    layer.build(x.shape)
    randomise(layer, rng)
    # the raw convolution output: the same unit with an identity BN (at inference) and no ReLU
    bare = type(layer).from_config({**layer.get_config(), "activation": False})
    bare.build(x.shape)
    bare.set_weights(layer.get_weights())
    bare.bn.set_weights([np.ones(8), np.zeros(8), np.zeros(8), np.full(8, 1.0 - 1e-5)])
    conv = keras.ops.convert_to_numpy(bare(x, training=False))

    before = layer.bn.moving_mean.numpy().copy()
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    expected, mean, _ = _batch_stat_bn(conv, layer.bn)
    np.testing.assert_allclose(y, np.maximum(expected, 0), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(layer.bn.moving_mean.numpy(), 0.9 * before + 0.1 * mean, atol=1e-5, rtol=1e-5)

    layer.bn.trainable = False
    moving = layer.bn.moving_mean.numpy().copy()
    frozen = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(frozen, keras.ops.convert_to_numpy(layer(x, training=False)), atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(layer.bn.moving_mean.numpy(), moving)
    kernels = [w for w in layer.trainable_weights if "kernel" in w.path]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grads = tape.gradient(loss, kernels)
    assert kernels and all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_config_round_trip_through_json():
    layer = GSTBlock(16, alpha=0.125, beta=1.0, strides=2, activation=False, name="g")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, GSTBlock)
    assert restored.get_config() == layer.get_config()
    assert (restored.spatial_filters, restored.temporal_filters) == (14, 2)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(filters=10, alpha=0.25), "alpha \\* filters"),
        (dict(filters=8, alpha=0.0), "alpha"),
        (dict(filters=8, alpha=1.0), "alpha"),
        (dict(filters=8, beta=0.0), "beta"),
        (dict(filters=8, beta=1.5), "beta"),
        (dict(filters=8, strides=3), "strides"),
        (dict(filters=0), "filters"),
        (dict(filters=8, temporal_impl="fft"), "temporal_impl"),
    ],
)
def test_gst_block_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GSTBlock(**kwargs)


def test_gst_block_rejects_input_channels_that_do_not_split():
    layer = GSTBlock(8, beta=0.5)
    with pytest.raises(ValueError, match="beta \\* input channels"):
        layer.build((1, 2, 4, 4, 5))


def test_c3d_groups_must_divide_filters():
    with pytest.raises(ValueError, match="groups"):
        C3DBlock(6, groups=4)


# -- frame-by-frame mode (stream_step) and the 2D ImageNet initialisation (load_2d), per unit class


def stream_clip(layer, x):
    """Feed the clip x (B, T, H, W, C) to `layer.stream_step` frame by frame from zero states, then
    `stream_delay` flush steps; returns the valid output frames stacked on T."""
    b, t = x.shape[:2]
    states = {k: np.zeros((b,) + s, "float32") for k, s in layer.stream_state_shapes(x.shape[2:]).items()}
    frames, flags = [], []
    for s in range(t + layer.stream_delay):
        frame = x[:, s : s + 1] if s < t else np.zeros_like(x[:, :1])
        y, valid, states = layer.stream_step(frame, np.full((b,), float(s < t), "float32"), states)
        flags.append(keras.ops.convert_to_numpy(valid)[0])
        if flags[-1] == 1.0:
            frames.append(keras.ops.convert_to_numpy(y))
    assert flags == [0.0] * layer.stream_delay + [1.0] * t  # output frame s - delay at step s
    return np.concatenate(frames, axis=1)


@pytest.mark.parametrize("beta,strides,causal", [(0.5, 1, False), (1.0, 2, False), (0.5, 2, True), (1.0, 1, True)])
def test_gst_stream_step_equals_the_numpy_clip_frame_by_frame(beta, strides, causal):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 7, 6, 8)).astype("float32")
    layer = GSTBlock(8, alpha=0.25, beta=beta, strides=strides, causal=causal)
    layer.build(x.shape)
    randomise(layer, rng)
    xs, xt = (x, x) if beta == 1.0 else (x[..., :4], x[..., 4:])
    spatial = np_conv(xs, layer.spatial_kernel.numpy()[None], strides)
    if causal:  # out[t] = sum_dt x[t - 2 + dt] k[dt]: the centred conv of the clip after one zero frame
        shifted = np.concatenate([np.zeros_like(xt[:, :1]), xt], 1)
        temporal = np_conv(shifted, layer.temporal_kernel.numpy(), strides)[:, :5]
    else:
        temporal = np_conv(xt, layer.temporal_kernel.numpy(), strides)
    expected = np.maximum(np_bn(np.concatenate([spatial, temporal], -1), layer.bn), 0)
    past = (7, 6, 8)
    expected_states = {"h0": past, "h1": past} if causal else {"h0": past, "h1": past, "valid": ()}
    assert layer.stream_state_shapes(past) == expected_states
    assert layer.stream_delay == (0 if causal else 1)
    np.testing.assert_allclose(stream_clip(layer, x), expected, atol=1e-4, rtol=1e-4)


def test_per_frame_units_stream_without_state_and_3d_baselines_refuse():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 3, 5, 5, 4)).astype("float32")
    for layer in (C2DBlock(6, strides=2), FrameConvBN(6, 1, activation=False)):
        layer.build(x.shape)
        randomise(layer, rng)
        expected = np_bn(np_conv(x, layer.kernel.numpy()[None], layer.strides), layer.bn)
        expected = np.maximum(expected, 0) if layer.activation else expected
        assert layer.stream_state_shapes((5, 5, 4)) == {} and layer.stream_delay == 0
        np.testing.assert_allclose(stream_clip(layer, x), expected, atol=1e-4, rtol=1e-4)
    for layer in (C3DBlock(6), P3DBlock(6)):
        layer.build(x.shape)
        with pytest.raises(ValueError, match="no frame-by-frame mode.*block='gst' or 'c2d'"):
            layer.stream_state_shapes((5, 5, 4))


def test_load_2d_follows_the_authors_imagenet_rules():
    """GST: spatial kernel = the 2D kernel's first (1-alpha)*filters outputs and first beta*Cin inputs, BN
    copied, temporal kernel kept; C3D: I3D inflation (kernel/3 on each of 3 taps) per channel group; P3D:
    spatial kernel and its BN copied, temporal kernel and output BN kept; FrameConvBN / C2D: copied."""
    rng = np.random.default_rng(9)
    kernel = rng.normal(size=(3, 3, 8, 8)).astype("float32")
    bn = [rng.normal(size=8).astype("float32") for _ in range(3)] + [rng.uniform(0.5, 1.5, 8).astype("float32")]
    shape = (1, 2, 5, 5, 8)

    gst = GSTBlock(8, alpha=0.25)
    gst.build(shape)
    temporal = gst.temporal_kernel.numpy().copy()
    assert gst.load_2d(kernel, bn) == [gst.temporal_kernel]
    np.testing.assert_array_equal(gst.spatial_kernel.numpy(), kernel[:, :, :4, :6])
    np.testing.assert_array_equal(gst.temporal_kernel.numpy(), temporal)
    for ours, theirs in zip(gst.bn.get_weights(), bn, strict=True):
        np.testing.assert_array_equal(ours, theirs)

    c3d = C3DBlock(8, groups=2)
    c3d.build(shape)
    assert c3d.load_2d(kernel, bn) == []
    expected = np.zeros((3, 3, 3, 4, 8), "float32")
    for t in range(3):
        expected[t, ..., :4] = kernel[:, :, :4, :4] / 3  # group 0: inputs 0-3 -> outputs 0-3
        expected[t, ..., 4:] = kernel[:, :, 4:, 4:] / 3  # group 1: inputs 4-7 -> outputs 4-7
    np.testing.assert_allclose(c3d.kernel.numpy(), expected, rtol=1e-6)

    p3d = P3DBlock(8)
    p3d.build(shape)
    kept = p3d.load_2d(kernel, bn)
    assert [v.path for v in kept] == [p3d.temporal_kernel.path] + [w.path for w in p3d.bn.weights]
    np.testing.assert_array_equal(p3d.spatial_kernel.numpy(), kernel)
    np.testing.assert_array_equal(p3d.spatial_bn.get_weights()[0], bn[0])

    c2d = C2DBlock(8)
    c2d.build(shape)
    assert c2d.load_2d(kernel, bn) == [] and c2d.input_channels == 8
    np.testing.assert_array_equal(c2d.kernel.numpy(), kernel)
    assert gst.output_paths() == (6, 2) and c2d.output_paths() == (8, 0)
