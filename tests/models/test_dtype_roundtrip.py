"""Dtype policies survive every save/load path: save_to_preset -> GSTVideoClassifier.from_preset and
keras_hub.models.Backbone.from_preset, `.keras` (tests/models/test_hub.py), and `keras-gst convert-torch
--dtype ... --out DIR`. Policy kept, outputs bit-equal to the saved model's. Tiny GST-R18, 4 frames, 32 px.

keras-hub 0.32 alone loses the policy: its preset loaders put the `dtype` given to `from_preset` (None
by default) into the backbone config, and its task loader casts a float preset to the global policy,
raising `ValueError: Invalid dtype: mixed_bfloat16` on a mixed one (`preset_utils._resolve_dtype`).
"""

import sys
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pytest

import keras_gst
from keras_gst import GSTBackbone, GSTVideoClassifier, GSTVideoClassifierPreprocessor, GSTVideoConverter
from test_hub import randomise_  # tests/models/test_hub.py (pytest puts this folder on sys.path)

T, SIZE, CLASSES = 4, 32, 3
MIXED = ["mixed_bfloat16", "mixed_float16"]


def tiny(dtype, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_gst.GSTResNet18(CLASSES, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3), dtype=dtype)
    return randomise_(model, seed)  # non-trivial BN statistics and head, so outputs differ per weight


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(1).random((2, T, SIZE, SIZE, 3)).astype("float32")


def assert_policy(model, dtype):
    """The model, every backbone layer and the head run in `dtype`; the clip logits stay float32."""
    backbone = model.backbone if isinstance(model, GSTVideoClassifier) else model
    assert backbone.dtype_policy.name == dtype
    assert {layer.dtype_policy.name for layer in backbone.layers[1:]} == {dtype}
    assert backbone.get_layer("stem").compute_dtype == dtype.removeprefix("mixed_")
    assert backbone.get_layer("stem").kernel.dtype == "float32"
    if isinstance(model, GSTVideoClassifier):
        assert model.get_layer("frame_logits").dtype_policy.name == dtype
        assert model.get_layer("logits").compute_dtype == "float32"


@pytest.mark.parametrize("dtype", MIXED)
def test_preset_round_trip_keeps_the_policy_through_both_entry_points(tmp_path, clips, dtype):
    model = tiny(dtype)
    model.preprocessor = GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(SIZE, SIZE)))
    model.save_to_preset(str(tmp_path))
    expected_logits = np.asarray(model(clips, training=False))
    expected_features = np.asarray(model.backbone(clips, training=False))

    loaded = GSTVideoClassifier.from_preset(str(tmp_path))
    assert_policy(loaded, dtype)
    np.testing.assert_array_equal(loaded(clips, training=False), expected_logits)

    backbone = keras_hub.models.Backbone.from_preset(str(tmp_path))  # keras-hub's base class
    assert isinstance(backbone, GSTBackbone)
    assert_policy(backbone, dtype)
    np.testing.assert_array_equal(backbone(clips, training=False), expected_features)
    assert_policy(GSTBackbone.from_preset(str(tmp_path)), dtype)


def test_from_preset_dtype_argument_still_overrides(tmp_path, clips):
    model = tiny("mixed_bfloat16")
    model.save_to_preset(str(tmp_path))
    loaded = GSTVideoClassifier.from_preset(str(tmp_path), dtype="float32")
    assert loaded.backbone.dtype_policy.name == "float32"
    assert loaded.backbone.get_layer("stem").compute_dtype == "float32"
    backbone = keras_hub.models.Backbone.from_preset(str(tmp_path), dtype="mixed_float16")
    assert_policy(backbone, "mixed_float16")
    # the same weights, in float32: within bfloat16's rounding of the mixed model's logits
    reference = np.asarray(model(clips, training=False))
    logits = np.asarray(loaded(clips, training=False))
    assert np.max(np.abs(logits - reference)) <= 5e-2 * np.max(np.abs(logits))


def test_config_without_dtype_policy_loads_as_before():
    """A config written before "dtype_policy" (its policy in "dtype") loads as before: "dtype" decides."""
    config = tiny("mixed_bfloat16").backbone.get_config()
    config["dtype"] = config.pop("dtype_policy")
    assert GSTBackbone.from_config(config).dtype_policy.name == "mixed_bfloat16"
    config["dtype"] = None
    assert keras.config.dtype_policy().name == "float32"
    assert GSTBackbone.from_config(config).dtype_policy.name == "float32"  # the global policy


@pytest.mark.parametrize("dtype", ["mixed_bfloat16"])
def test_convert_torch_preset_keeps_the_policy(tmp_path, clips, dtype):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from keras_gst.benchmarks import torch_reference as torch_gst

    from keras_gst.cli import main as cli_main
    from keras_gst.weights.torch_convert import load_torch_weights

    tv = torch_gst.randomize_(torch_gst.TorchvisionResNet(18), seed=2)
    checkpoint, out = tmp_path / "resnet18.pth", tmp_path / "preset"
    torch.save(tv.state_dict(), checkpoint)
    assert cli_main(["convert-torch", "--imagenet", str(checkpoint), "--num-classes", str(CLASSES), "--dtype", dtype,
                     "--block", "c2d", "--num-frames", str(T), "--size", str(SIZE), "--out", str(out)]) == 0

    loaded = GSTVideoClassifier.from_preset(str(out))
    assert_policy(loaded, dtype)
    backbone = keras_hub.models.Backbone.from_preset(str(out))
    assert_policy(backbone, dtype)
    # torchvision's conv1 weight (O, I, kh, kw) is the stem kernel (kh, kw, I, O)
    np.testing.assert_array_equal(np.asarray(backbone.get_layer("stem").kernel),
                                  tv.state_dict()["conv1.weight"].numpy().transpose(2, 3, 1, 0))
    # the same conversion in this process, in the same policy: the same features, bit for bit (C2D: every
    # backbone weight comes from the checkpoint, none is initialised at random)
    reference = keras_gst.GSTResNet18(CLASSES, weights=None, num_frames=T, block="c2d", dtype=dtype)
    load_torch_weights(reference, tv.state_dict())
    expected = np.asarray(reference.backbone(clips, training=False))
    np.testing.assert_array_equal(backbone(clips, training=False), expected)
    np.testing.assert_array_equal(loaded.backbone(clips, training=False), expected)
