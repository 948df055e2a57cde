"""README: `save_to_preset` / `from_preset` round-trip every variant. Each architecture variant (the paper's
baselines, GST-Large, causal units, the conv2d temporal form) goes through a keras-hub preset and comes back
with the same config and logits, through `GSTVideoClassifier.from_preset` and `keras_hub.models.Backbone.from_preset`.
Dtype policies (mixed_bfloat16 / mixed_float16) are covered with the other dtype tests in test_hub.py."""

import keras
import keras_hub
import numpy as np
import pytest

import keras_gst
from keras_gst import GSTBackbone, GSTVideoClassifier

T, SIZE, CLASSES = 2, 32, 3
VARIANTS = {
    "c2d": dict(block="c2d"),
    "c3d_groups2": dict(block="c3d", groups=2),
    "p3d": dict(block="p3d"),
    "gst_large": dict(beta=1.0),
    "gst_alpha_half": dict(alpha=0.5),
    "causal": dict(causal=True),
    "temporal_conv2d": dict(temporal_impl="conv2d"),
}


@pytest.mark.parametrize("kwargs", VARIANTS.values(), ids=VARIANTS.keys())
def test_variant_preset_round_trip(kwargs, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras_gst.GSTResNet18(CLASSES, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3), **kwargs)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # non-trivial values everywhere, so a weight left behind shows in the logits
        weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32") if "variance" in weight.path
                      else rng.normal(0, 0.1, weight.shape).astype("float32"))
    clips = rng.random((2, T, SIZE, SIZE, 3)).astype("float32")
    model.save_to_preset(str(tmp_path))

    loaded = GSTVideoClassifier.from_preset(str(tmp_path))
    backbone_config = loaded.backbone.get_config()
    for name, value in kwargs.items():
        assert backbone_config[name] == value, name
    assert backbone_config == model.backbone.get_config()
    np.testing.assert_allclose(loaded(clips, training=False), model(clips, training=False), atol=1e-5, rtol=0)
    backbone = keras_hub.models.Backbone.from_preset(str(tmp_path))
    assert type(backbone) is GSTBackbone
    np.testing.assert_allclose(backbone(clips), model.backbone(clips), atol=1e-5, rtol=0)
