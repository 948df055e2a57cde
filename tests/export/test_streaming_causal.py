"""Causal GST: temporal convolutions see only the current and past frames; the stream has zero delay
and equals the offline per-frame logits frame by frame."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gst import GSTResNet18, per_frame_model
from keras_gst.export import normalize_clip
from keras_gst.export.streaming import StreamingGST
from keras_gst.layers.frames import conv3d

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5


@pytest.fixture(scope="module")
def causal_model():
    import keras

    keras.utils.set_random_seed(1)
    return GSTResNet18(NUM_CLASSES, weights=None, num_frames=NUM_FRAMES, input_shape=(SIZE, SIZE, 3), causal=True)


def _numpy_causal_conv3d(x, kernel):
    """Reference: out[t] = sum_dt sum_(i,j) x[t - 2 + dt] (zero before frame 0) * k[dt], stride 1, 'same' in space."""
    b, t, h, w, _ = x.shape
    kt, kh, kw, _, cout = kernel.shape
    xp = np.pad(x, [(0, 0), (kt - 1, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
    out = np.zeros((b, t, h, w, cout))
    for dt in range(kt):
        for i in range(kh):
            for j in range(kw):
                out += np.einsum("bthwc,cd->bthwd", xp[:, dt : dt + t, i : i + h, j : j + w], kernel[dt, i, j])
    return out


@pytest.mark.parametrize("impl", ["conv3d", "conv2d"])
def test_causal_conv3d_matches_numpy(impl):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 6, 3)).astype("float32")
    kernel = rng.standard_normal((3, 3, 3, 3, 4)).astype("float32")
    got = np.asarray(conv3d(x, kernel, 1, impl, causal=True))
    np.testing.assert_allclose(got, _numpy_causal_conv3d(x, kernel), atol=1e-4)
    centred = np.asarray(conv3d(x, kernel, 1, impl))
    assert np.abs(centred - got).max() > 1e-2  # causal is not the centred convolution


def test_causal_model_ignores_future_frames(causal_model, real_clips):
    x = normalize_clip(real_clips[:2])
    y = x.copy()
    y[:, 2:] = normalize_clip(real_clips[2:4])[:, 2:]  # change the last two frames only
    frames = per_frame_model(causal_model)
    a, b = np.asarray(frames(x)), np.asarray(frames(y))
    np.testing.assert_array_equal(a[:, :2], b[:, :2])
    assert np.abs(a[:, 2:] - b[:, 2:]).max() > 0


def test_causal_config_round_trip(causal_model, tmp_path):
    import keras

    from keras_gst import GSTBackbone

    config = causal_model.get_config()["backbone"]["config"]
    assert config["causal"] is True
    assert GSTBackbone.from_config(config).causal
    assert all(unit.causal for unit in causal_model.units())
    path = str(tmp_path / "causal.keras")
    causal_model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.causal and all(unit.causal for unit in loaded.units())


def test_causal_stream_has_zero_delay_and_equals_offline(causal_model, real_clips):
    x = normalize_clip(real_clips[::5])
    stream = StreamingGST(causal_model)
    assert stream.delay == 0 and not any(k.endswith("_valid") for k in stream.state_shapes)
    ref = np.asarray(per_frame_model(causal_model)(x, training=False))
    states = stream.init_states(len(x))
    for t in range(NUM_FRAMES):  # frame t's logits come out at step t
        out, states = stream.step(tf.constant(x[:, t]), tf.ones((len(x),)), states)
        assert np.all(np.asarray(out["valid"]) == 1.0)
        np.testing.assert_allclose(np.asarray(out["frame_logits"]), ref[:, t], atol=1e-5 * max(1.0, np.abs(ref).max()))
    np.testing.assert_allclose(np.asarray(out["clip_logits"]), np.asarray(causal_model(x)), atol=1e-5)


def test_causal_recipe_and_train_flag():
    import argparse

    from keras_gst.commands.train import add_recipe_arguments, recipe_from_args
    from keras_gst.training.recipe import Recipe
    from keras_gst.training.trainer import _build_model

    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser, Recipe())
    recipe = recipe_from_args(parser.parse_args(["--causal", "--model", "gst_resnet18", "--weights", "none",
                                                 "--crop-size", "32", "--frames", "2"]), Recipe())
    assert recipe.causal
    model = _build_model(recipe, 3)
    assert model.causal and all(unit.causal for unit in model.units())
