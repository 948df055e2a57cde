"""keras-hub native family: presets (save_to_preset / from_preset), config round trips with dtype, mixed
precision (bf16 / fp16 training steps, float32 BN folding), bad presets and weights. Tiny GST-R18 models."""

import copy
import json
import os
import shutil

import keras
import keras_hub
import numpy as np
import pytest

import keras_gst
from keras_gst import GSTBackbone, GSTVideoClassifier, GSTVideoClassifierPreprocessor, GSTVideoConverter
from keras_gst.layers import FrameConvBN
from keras_gst.weights import load_weights

T, SIZE, CLASSES = 2, 32, 3


def tiny(dtype=None, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return keras_gst.GSTResNet18(CLASSES, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3), dtype=dtype, **kwargs)


def randomise_(model, seed=0):
    """Non-trivial weights and BN statistics, and a head whose logits are O(1)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path or "gamma" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif "moving_mean" in w.path or "beta" in w.path:
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))
    head = model.get_layer("frame_logits")
    head.kernel.assign(rng.normal(0, 0.1, head.kernel.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(1).random((2, T, SIZE, SIZE, 3)).astype("float32")


@pytest.fixture(scope="module")
def saved_preset(tmp_path_factory):
    model = randomise_(tiny())
    model.preprocessor = GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(SIZE, SIZE)))
    path = tmp_path_factory.mktemp("preset") / "gst_r18"
    model.save_to_preset(str(path))
    return model, path


# ---------------------------------------------------------------------------------------------------
# Presets


def test_preset_round_trip_equal(saved_preset, clips):
    model, path = saved_preset
    files = set(os.listdir(path))
    assert {"config.json", "model.weights.h5", "task.json", "task.weights.h5", "preprocessor.json",
            "video_converter.json", "metadata.json"} <= files
    assert json.loads((path / "config.json").read_text())["registered_name"] == "keras_gst>GSTBackbone"
    loaded = GSTVideoClassifier.from_preset(str(path))
    np.testing.assert_allclose(loaded(clips, training=False), model(clips, training=False), atol=1e-6, rtol=0)
    assert loaded.get_config()["backbone"] == model.get_config()["backbone"]
    # keras-hub's base classes resolve to ours from the config
    backbone = keras_hub.models.Backbone.from_preset(str(path))
    assert type(backbone) is GSTBackbone
    np.testing.assert_allclose(backbone(clips), model.backbone(clips), atol=1e-6, rtol=0)
    # uint8 pixels through the preset's preprocessor = normalised floats through the bare network
    pixels = np.random.default_rng(2).integers(0, 256, (2, T, SIZE, SIZE, 3)).astype("uint8")
    normalised = ((pixels / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])).astype("float32")
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model(normalised, training=False), atol=1e-5)


def test_preprocessor_resizes_to_the_model_size(saved_preset):
    loaded = GSTVideoClassifier.from_preset(str(saved_preset[1]))
    pixels = np.full((1, T, 48, 64, 3), 255, np.uint8)  # a white clip of another size
    x = np.asarray(loaded.preprocessor(pixels))
    assert x.shape == (1, T, SIZE, SIZE, 3)
    np.testing.assert_allclose(x[0, 0, 0, 0], (1.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]),
                               rtol=1e-5)
    assert loaded.predict(pixels, verbose=0).shape == (1, CLASSES)


def test_backbone_only_preset_and_new_head(tmp_path, clips):
    model = randomise_(tiny())
    model.backbone.save_to_preset(str(tmp_path / "backbone"))
    classifier = GSTVideoClassifier.from_preset(str(tmp_path / "backbone"), num_classes=7)
    assert classifier.num_classes == 7
    assert classifier.preprocessor.video_converter.image_size == (SIZE, SIZE)  # from the backbone's config
    np.testing.assert_allclose(classifier.backbone(clips), model.backbone(clips), atol=1e-6, rtol=0)


def test_preset_as_weights_source_copies_and_reinitialises_other_heads(saved_preset, clips):
    model, path = saved_preset
    same = tiny(seed=5)
    report = load_weights(same, str(path))
    assert report.skipped == []
    np.testing.assert_allclose(same(clips, training=False), model(clips, training=False), atol=1e-6, rtol=0)
    with pytest.warns(UserWarning, match="frame_logits"):
        other = keras_gst.GSTResNet18(9, weights=str(path), num_frames=T, input_shape=(SIZE, SIZE, 3))
    assert [name for name, _ in other.load_report.skipped] == ["frame_logits"]


# ---------------------------------------------------------------------------------------------------
# Bad presets and weights: clear errors, model untouched


def _copy_preset(path, tmp_path, drop=None):
    target = tmp_path / "copy"
    shutil.copytree(path, target)
    if drop:
        os.remove(target / drop)
    return target


@pytest.mark.parametrize("missing", ["model.weights.h5", "config.json"])
def test_preset_missing_file_is_named(saved_preset, tmp_path, missing):
    path = _copy_preset(saved_preset[1], tmp_path, drop=missing)
    with pytest.raises(FileNotFoundError, match=rf"{missing} is missing") as info:
        GSTVideoClassifier.from_preset(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(keras_gst.errors.ModelFileError, match=missing):  # the library's loader: a typed error
        keras_gst.load_model(str(path))


def test_preset_of_another_model_is_named(tmp_path):
    resnet = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False,
    )
    resnet.save_to_preset(str(tmp_path / "resnet"))
    with pytest.raises(ValueError, match=r"config\.json describes a keras_hub>ResNetBackbone model.*load_weights"):
        GSTVideoClassifier.from_preset(str(tmp_path / "resnet"))
    with pytest.raises(ValueError, match="not a keras_gst GSTBackbone"):
        GSTBackbone.from_preset(str(tmp_path / "resnet"))


def test_shape_mismatched_preset_names_layers_and_leaves_model_untouched(saved_preset):
    model = tiny(alpha=0.5, seed=3)  # GST alpha 1/2: other kernel shapes than the alpha 1/4 preset
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"stack0_block0_1: shapes .* here") as info:
        load_weights(model, str(saved_preset[1]))
    assert str(saved_preset[1]) in str(info.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_mismatched_weights_h5_leaves_model_untouched(tmp_path):
    tiny(seed=1).save_weights(tmp_path / "a.weights.h5")
    model = keras_gst.GSTResNet18(5, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3))
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"a\.weights\.h5 does not fit"):
        load_weights(model, str(tmp_path / "a.weights.h5"))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_weights_are_validated_before_building(monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(GSTBackbone, "__init__", lambda *a, **k: built.append(1))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        keras_gst.GSTResNet50(174, weights=str(tmp_path / "nope.pth"))
    with pytest.raises(ValueError, match="no plain ImageNet ResNet-34"):
        keras_gst.GSTResNet34(174, weights="imagenet")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown format"):
        keras_gst.GSTResNet18(4, weights=str(tmp_path / "w.npz"))
    assert built == []


@pytest.mark.parametrize("dtype", ["float17", "mixed_int3"])
def test_unknown_dtype_names_the_value_and_the_choices(dtype):
    with pytest.raises(ValueError, match=rf"Unknown dtype '{dtype}'.*mixed_bfloat16"):
        GSTBackbone(depth=18, dtype=dtype)


# ---------------------------------------------------------------------------------------------------
# Config round trips, including dtype


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_get_config_from_config_round_trip_with_dtype(dtype):
    model = tiny(dtype=dtype)
    config = json.loads(json.dumps(model.get_config()))
    assert config["backbone"]["config"]["dtype_policy"]["config"]["name"] == dtype  # see GSTBackbone.get_config
    rebuilt = GSTVideoClassifier.from_config(copy.deepcopy(config))
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.dtype_policy.name == dtype
    for layer in rebuilt.backbone.layers[1:]:
        assert layer.dtype_policy.name == dtype, layer.name
        restored = type(layer).from_config(json.loads(json.dumps(layer.get_config())))
        assert restored.dtype_policy.name == dtype and restored.get_config() == layer.get_config()
    assert rebuilt.get_layer("frame_logits").dtype_policy.name == dtype
    assert rebuilt.get_layer("logits").compute_dtype == "float32"


@pytest.mark.parametrize("dtype", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keras_file_round_trip(tmp_path, dtype, clips):
    model = tiny(dtype=dtype)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.dtype_policy.name == dtype and loaded.backbone.get_layer("stem").compute_dtype == dtype[6:]
    np.testing.assert_array_equal(loaded(clips, training=False), model(clips, training=False))


# ---------------------------------------------------------------------------------------------------
# Mixed precision

# max |logits - float32 logits| / max |float32 logits| on this tiny model (measured: bf16 ~1e-2, fp16 ~1e-3)
MIXED_TOLERANCE = {"mixed_bfloat16": 5e-2, "mixed_float16": 5e-3}


@pytest.mark.parametrize("dtype", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_inference_is_close_to_float32(dtype, clips):
    reference = randomise_(tiny())
    model = tiny(dtype=dtype)
    model.set_weights(reference.get_weights())
    assert {w.dtype for w in model.weights} == {"float32"}  # variables and BN statistics stay float32
    assert model.backbone.get_layer("stem").compute_dtype == dtype[6:]
    expected = np.asarray(reference(clips, training=False))
    got = model(clips, training=False)
    assert got.dtype == "float32"
    rel = np.abs(np.asarray(got) - expected).max() / np.abs(expected).max()
    print(f"{dtype}: relative logit error {rel:.2e}")
    assert 0 < rel < MIXED_TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_step_is_finite(dtype, clips):
    model = tiny(dtype=dtype)
    model.preprocessor = None  # `clips` are the network's input
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (dtype == "mixed_float16")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(clips, np.array([0, 2]), epochs=2, batch_size=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = model.trainable_weights
    assert all(np.all(np.isfinite(np.asarray(w))) for w in after)
    assert any(not np.array_equal(a, np.asarray(b)) for a, b in zip(before, after))  # it trained
    bn = model.backbone.get_layer("stem").bn
    assert bn.moving_mean.dtype == "float32" and np.all(np.isfinite(np.asarray(bn.moving_variance)))


def test_bn_folding_runs_in_float32_under_float16():
    """A BN variance beyond float16's range (65504) folds correctly: computed in float32, then cast."""
    unit = FrameConvBN(4, 1, activation=False, dtype="mixed_float16")
    x = np.random.default_rng(3).normal(0, 100, (1, 1, 4, 4, 3)).astype("float32")
    unit(x)
    unit.kernel.assign(np.ones((1, 1, 3, 4), "float32"))
    unit.bn.moving_variance.assign(np.full(4, 1e6, "float32"))
    unit.bn.moving_mean.assign(np.zeros(4, "float32"))
    expected = x.sum(-1, keepdims=True) / np.sqrt(1e6 + 1e-5) * np.ones(4)
    np.testing.assert_allclose(np.asarray(unit(x, training=False), np.float32), expected, rtol=2e-3, atol=1e-3)


def test_keras_file_restores_the_compiled_optimizer_state(tmp_path, clips):
    """`compile` is overridden (task defaults), so `compile_from_config` must recompile from the file: a
    trained model's optimizer and its momentum buffers come back."""
    model = tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(clips, np.array([0, 1]), epochs=1, batch_size=2, verbose=0)
    model.save(tmp_path / "trained.keras")
    loaded = keras.saving.load_model(tmp_path / "trained.keras")
    assert type(loaded.optimizer) is keras.optimizers.SGD and int(loaded.optimizer.iterations) == 1
    momentum = [np.asarray(v) for v in model.optimizer.variables if "momentum" in v.path]
    assert momentum and np.abs(momentum[0]).max() > 0
    restored = [np.asarray(v) for v in loaded.optimizer.variables if "momentum" in v.path]
    assert all(np.array_equal(a, b) for a, b in zip(momentum, restored, strict=True))
