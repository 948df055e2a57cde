"""GST-ResNet factories -> GSTVideoClassifier: exact parameter counts (paper Table 2 and the authors' code,
docs/paper.md), MACs, shapes, head, serialization."""

import copy
import json

import keras
import numpy as np
import pytest

import keras_gst
from keras_gst import GSTBackbone, GSTVideoClassifier, count_macs, count_params, feature_model, per_frame_model

# docs/paper.md (counted on the authors' PyTorch code), ResNet-50 / 174 classes: trainable parameters (PyTorch's count) and MACs at 8x224x224.
TABLE2 = [
    ("c2d", {"block": "c2d"}, 23_864_558, 32.70e9),
    ("gst_1/2", {"alpha": 0.5}, 23_864_558, 32.70e9),
    ("gst_1/4", {"alpha": 0.25}, 21_035_246, 29.00e9),
    ("gst_1/8", {"alpha": 0.125}, 19_620_590, 27.15e9),
    ("gst_large", {"alpha": 0.25, "beta": 1.0}, 29_523_182, 40.10e9),
    ("c3d_groups2", {"block": "c3d", "groups": 2}, 29_523_182, 40.10e9),
    ("p3d", {"block": "p3d"}, 27_644_526, 37.63e9),
    ("c3d", {"block": "c3d"}, 46_499_054, 62.29e9),
]


@pytest.mark.parametrize("name,kwargs,params,macs", TABLE2, ids=[t[0] for t in TABLE2])
def test_resnet50_parameter_and_mac_counts_match_reference(name, kwargs, params, macs):
    model = keras_gst.GSTResNet50(174, weights=None, **kwargs)
    counts = count_params(model)
    assert counts["params"] == params
    # Keras also counts BN moving mean/variance: 53,120 for ResNet-50 (+7,552 for P3D's extra BNs).
    assert counts["params_total"] == params + 53_120 + (7_552 if name == "p3d" else 0)
    measured = count_macs(model, (8, 224, 224, 3))
    assert abs(measured - macs) / macs < 0.005, measured


def test_resnet101_gst_counts():
    model = keras_gst.GSTResNet101(174, weights=None)
    assert count_params(model)["params"] == 37_520_622
    assert abs(count_macs(model, (8, 224, 224, 3)) - 54.77e9) / 54.77e9 < 0.005


@pytest.mark.parametrize("factory", [keras_gst.GSTResNet18, keras_gst.GSTResNet34])
def test_basic_block_resnets_apply_gst_to_both_3x3_convs(factory):
    model = factory(10, weights=None)
    units = model.units()
    blocks = {18: 8, 34: 16}[model.depth]
    assert len(units) == 2 * blocks and all(isinstance(u, keras_gst.GSTBlock) for u in units)
    # the second conv of a basic block has no ReLU (it comes after the residual add)
    assert [u.activation for u in units[:2]] == [True, False]


@pytest.mark.parametrize("shape", [(1, 3, 32, 32, 3), (2, 5, 48, 64, 3), (1, 1, 40, 33, 3)])
def test_any_number_of_frames_and_size(shape):
    model = keras_gst.GSTResNet18(7, weights=None)
    y = keras.ops.convert_to_numpy(model(np.random.rand(*shape).astype("float32"), training=False))  # the network
    assert y.shape == (shape[0], 7)
    assert np.isfinite(y).all()


def test_head_is_the_mean_of_per_frame_logits():
    model = keras_gst.GSTResNet18(6, weights=None, dropout=0.3)
    x = np.random.default_rng(0).random((2, 4, 32, 32, 3)).astype("float32")
    frame_logits = per_frame_model(model).predict_on_batch(x)
    assert frame_logits.shape == (2, 4, 6)
    np.testing.assert_allclose(model(x, training=False), frame_logits.mean(axis=1), rtol=1e-5, atol=1e-6)
    dense = model.get_layer("frame_logits")
    assert np.all(dense.bias.numpy() == 0)
    assert 0.0005 < dense.kernel.numpy().std() < 0.002  # normal(std=0.001) init
    assert model.get_layer("dropout").rate == 0.3


def test_c2d_has_no_temporal_interaction_but_gst_has():
    x = np.random.default_rng(1).random((1, 3, 32, 32, 3)).astype("float32")
    x2 = x.copy()
    x2[:, 0] = 0.0
    for block, expect_change in [("c2d", False), ("gst", True)]:
        per_frame = per_frame_model(keras_gst.GSTResNet18(4, weights=None, block=block))
        change = np.abs(per_frame.predict_on_batch(x2)[:, 2] - per_frame.predict_on_batch(x)[:, 2]).max()
        assert (change > 0) == expect_change, (block, change)


VARIANTS = [
    dict(block="gst"),
    dict(block="gst", beta=1.0, alpha=0.5),
    dict(block="c2d"),
    dict(block="c3d"),
    dict(block="c3d", groups=2),
    dict(block="p3d"),
]


@pytest.mark.parametrize("kwargs", VARIANTS, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_save_and_load_round_trip(tmp_path, kwargs):
    model = keras_gst.GSTResNet18(5, weights=None, num_frames=2, **kwargs)
    x = np.random.default_rng(2).random((1, 2, 32, 32, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, GSTVideoClassifier) and isinstance(restored.backbone, GSTBackbone)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(restored.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


def test_get_config_json_round_trip():
    model = keras_gst.GSTResNet50(174, weights=None, alpha=0.125, num_frames=8, input_shape=(224, 224, 3))
    config = json.loads(json.dumps(model.get_config()))
    assert "weights" not in config and "weights" not in config["backbone"]["config"]  # a config never loads weights
    rebuilt = GSTVideoClassifier.from_config(config)
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.input_shape == (None, 8, 224, 224, 3)
    assert count_params(rebuilt) == count_params(model)


def test_feature_model_output_shape():
    model = keras_gst.GSTResNet50(3, weights=None)
    features = feature_model(model).predict_on_batch(np.zeros((1, 2, 64, 64, 3), "float32"))
    assert features.shape == (1, 2, 2, 2, 2048)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(depth=42), "depth"),
        (dict(block="i3d"), "block"),
        (dict(groups=2), "groups"),
        (dict(input_shape=(16, 64, 3)), "at least 32"),
        (dict(input_shape=(64, 64, 1)), "image_shape"),
        (dict(num_classes=0), "num_classes"),
        (dict(dropout=1.0), "dropout"),
        (dict(num_frames=0), "num_frames"),
        (dict(alpha=0.3), "alpha \\* filters"),
    ],
)
def test_bad_model_arguments_fail_clearly(kwargs, message):
    kwargs = {"depth": 18, "num_classes": 5, **kwargs}
    if "input_shape" in kwargs:
        kwargs["image_shape"] = kwargs.pop("input_shape")
    head = {k: kwargs.pop(k) for k in ("num_classes", "dropout") if k in kwargs}
    with pytest.raises(ValueError, match=message):
        GSTVideoClassifier(GSTBackbone(**kwargs), **head)


def test_factory_defaults_never_raise_on_arguments():
    """GSTResNet34's default weights (no keras-hub ImageNet ResNet-34) is None; the others default to
    'imagenet', checked before anything is built."""
    import inspect

    defaults = {f.__name__: inspect.signature(f).parameters["weights"].default
                for f in (keras_gst.GSTResNet18, keras_gst.GSTResNet34, keras_gst.GSTResNet50, keras_gst.GSTResNet101)}
    assert defaults == {"GSTResNet18": "imagenet", "GSTResNet34": None, "GSTResNet50": "imagenet",
                        "GSTResNet101": "imagenet"}
    model = keras_gst.GSTResNet34(num_classes=5)
    assert isinstance(model, GSTVideoClassifier) and model.load_report is None and model.depth == 34


def test_model_construction_reads_no_file(monkeypatch):
    """Config-only constructors: building from a config opens no file (a saved config never loads weights)."""
    import builtins

    model = keras_gst.GSTResNet18(4, weights=None, num_frames=2, input_shape=(32, 32, 3))
    config = model.get_config()

    def no_open(*args, **kwargs):
        raise AssertionError(f"open{args} while building a model")

    monkeypatch.setattr(builtins, "open", no_open)
    rebuilt = GSTVideoClassifier.from_config(copy.deepcopy(config))  # (Task.from_config edits its argument)
    monkeypatch.undo()
    assert rebuilt.get_config() == config
