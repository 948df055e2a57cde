"""The paper's optimiser: torch-style SGD (clip after the replica sum, L2 on kernels only), lr rules."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_gst.training.optim import GSTSGD, build_optimizer, is_decayed, scaled_learning_rate, step_decay_schedule


def _torch_style_reference(weights, grads_seq, lr, momentum, wd, clip):
    """PyTorch semantics: clip_grad_norm_(all grads), then SGD(momentum, weight_decay) on decayed params."""
    w = [x.copy() for x in weights]
    buf = [np.zeros_like(x) for x in w]
    for grads in grads_seq:
        norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
        scale = min(1.0, clip / (norm + 1e-6))
        for i, g in enumerate(grads):
            d = g * scale + (wd * w[i] if w[i].ndim >= 2 else 0.0)
            buf[i] = momentum * buf[i] + d
            w[i] = w[i] - lr * buf[i]
    return w


def test_gstsgd_matches_pytorch_sgd_with_clip_and_kernel_only_decay():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 3, 2, 4)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)]
    variables = [keras.Variable(w) for w in weights]
    opt = GSTSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.05, clip_norm=1.0)
    grads_seq = [[rng.normal(size=w.shape).astype(np.float32) * 5 for w in weights] for _ in range(4)]
    for grads in grads_seq:
        opt.apply([tf.constant(g) for g in grads], variables)
    expected = _torch_style_reference(weights, grads_seq, 0.1, 0.9, 0.05, 1.0)
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(v.numpy(), e, rtol=1e-5, atol=1e-5)
    # the bias (rank 1) was not decayed: its update is independent of the decay coefficient
    other = [keras.Variable(w) for w in weights]
    opt2 = GSTSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.0, clip_norm=1.0)
    for grads in grads_seq:
        opt2.apply([tf.constant(g) for g in grads], other)
    np.testing.assert_allclose(other[1].numpy(), variables[1].numpy(), atol=1e-6)
    assert np.abs(other[0].numpy() - variables[0].numpy()).max() > 1e-3


def test_decay_selects_conv_and_dense_kernels_of_a_gst_model():
    from keras_gst import GSTResNet18

    model = GSTResNet18(5, weights=None, num_frames=4, input_shape=(32, 32, 3))
    decayed = {v.path for v in model.trainable_variables if is_decayed(v)}
    assert "frame_logits/kernel" in decayed and "frame_logits/bias" not in decayed
    assert any("spatial_kernel" in p for p in decayed) and any("temporal_kernel" in p for p in decayed)
    assert not any("gamma" in p or "beta" in p for p in decayed)
    kernels = [v for v in model.trainable_variables if "kernel" in v.path]
    assert len(decayed) == len(kernels)


def test_learning_rate_scaling_and_step_decay():
    assert scaled_learning_rate(0.01, 24) == pytest.approx(0.01)
    assert scaled_learning_rate(0.01, 96) == pytest.approx(0.04)
    assert scaled_learning_rate(0.01, 8) == pytest.approx(0.01 / 3)
    schedule = step_decay_schedule(0.04, steps_per_epoch=10, decay_epochs=(2, 3), factor=0.1)
    values = [float(schedule(step)) for step in (0, 19, 20, 29, 30, 100)]
    np.testing.assert_allclose(values, [0.04, 0.04, 0.004, 0.004, 0.0004, 0.0004], rtol=1e-6)
    opt = build_optimizer(0.01, global_batch=48, steps_per_epoch=5, decay_epochs=(1,))
    assert float(opt.learning_rate) == pytest.approx(0.02)
    opt.iterations.assign(5)
    assert float(opt.learning_rate) == pytest.approx(0.002)


def test_gstsgd_config_round_trip():
    opt = GSTSGD(learning_rate=0.02, momentum=0.8, weight_decay=3e-4, clip_norm=20.0)
    config = opt.get_config()
    again = GSTSGD.from_config(config)
    assert (again.l2_decay, again.clip_norm, float(again.momentum)) == (3e-4, 20.0, 0.8)
    assert "clipnorm" not in config
    with pytest.raises(ValueError):
        GSTSGD(weight_decay=-1.0)
