"""`.keras` files written by keras-gst 0.1.0 (`GSTResNet`) still load and upgrade to `GSTVideoClassifier`.

The file is rebuilt from the recorded layout of a real 0.1.0 file (tests/assets/legacy_gstresnet18_v0.1.0.json:
its config.json, metadata.json and every model.weights.h5 dataset path and shape), filled with random
values, so the test does not depend on today's code writing the old layout.
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import keras_gst
from keras_gst.models import GSTResNet, GSTVideoClassifier, upgrade_legacy

LAYOUT = Path(__file__).resolve().parents[1] / "assets" / "legacy_gstresnet18_v0.1.0.json"


def write_legacy_file(path, seed=0):
    layout = json.loads(LAYOUT.read_text())
    rng = np.random.default_rng(seed)
    values = {}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for group in layout["groups"]:
            f.require_group(group)
        for name, shape in layout["datasets"].items():
            value = rng.normal(0, 0.1, shape).astype("float32")
            if name.split("/")[-2:] in (["vars", "3"],) and "/bn/" in name:  # moving_variance > 0
                value = np.abs(value) + 0.5
            f.create_dataset(name, data=value)
            values[name] = value
        f["vars"].attrs["name"] = layout["config"]["config"]["name"]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps(layout["metadata"]))
        z.writestr("config.json", json.dumps(layout["config"]))
        z.writestr("model.weights.h5", buffer.getvalue())
    return layout, values


def test_legacy_file_loads_with_its_weights_and_upgrades(tmp_path):
    path = tmp_path / "gst_r18_v0.1.0.keras"
    layout, values = write_legacy_file(path)
    legacy = keras.saving.load_model(path)
    assert isinstance(legacy, GSTResNet)
    assert legacy.get_config() == {**layout["config"]["config"]}
    # every stored array is in the model, in some weight of matching shape and value
    stored = sorted(v.tobytes() for v in values.values())
    assert sorted(np.asarray(w).tobytes() for w in legacy.weights) == stored
    np.testing.assert_array_equal(legacy.get_layer("frame_logits").kernel, values["layers/dense/vars/0"])

    clips = np.random.default_rng(1).random((2, 2, 32, 32, 3)).astype("float32")
    upgraded = upgrade_legacy(legacy)
    assert isinstance(upgraded, GSTVideoClassifier) and upgraded.name == legacy.name
    assert (upgraded.depth, upgraded.num_classes, upgraded.frame_shape) == (18, 3, (32, 32, 3))
    np.testing.assert_allclose(upgraded(clips, training=False), legacy(clips, training=False), atol=1e-6, rtol=0)
    # keras_gst.load_model (every keras-gst command) upgrades on load
    loaded = keras_gst.load_model(path)
    assert isinstance(loaded, GSTVideoClassifier)
    np.testing.assert_allclose(loaded(clips, training=False), legacy(clips, training=False), atol=1e-6, rtol=0)


def test_a_config_with_weights_never_loads_them():
    with pytest.raises(ValueError, match="no longer takes `weights`"):
        GSTResNet.from_config({"depth": 18, "num_classes": 3, "weights": "imagenet"})
