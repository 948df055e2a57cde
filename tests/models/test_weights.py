"""ImageNet initialisation from keras-hub ResNets (saved locally: no network) and other weight sources."""

import json

import keras
import keras_hub
import numpy as np
import pytest

import keras_gst
from cli_helpers import run_cli
from keras_gst import feature_model
from keras_gst.applications import build_classifier

SPECS = {18: ("basic_block", [2, 2, 2, 2]), 50: ("bottleneck_block", [3, 4, 6, 3])}


def random_backbone(depth, seed):
    keras.utils.set_random_seed(seed)
    block_type, blocks = SPECS[depth]
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=blocks,
        stackwise_num_strides=[1, 2, 2, 2],
        block_type=block_type,
        use_pre_activation=False,
    )
    rng = np.random.default_rng(seed)
    for w in backbone.weights:  # non-trivial BN statistics too
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif "moving_mean" in w.path or "beta" in w.path:
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))
        elif "gamma" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    return backbone


@pytest.fixture(scope="module", params=[18, 50])
def preset(request, tmp_path_factory):
    depth = request.param
    backbone = random_backbone(depth, seed=depth)
    path = tmp_path_factory.mktemp(f"resnet{depth}_preset")
    backbone.save_to_preset(str(path))
    return depth, path, backbone


def test_c2d_from_preset_equals_2d_backbone_on_every_frame(preset):
    depth, path, backbone = preset
    model = build_classifier(depth, 5, block="c2d", weights=str(path))
    frames = np.random.default_rng(0).random((2, 3, 64, 64, 3)).astype("float32")
    ours = feature_model(model).predict_on_batch(frames)
    theirs = backbone.predict_on_batch(frames.reshape(6, 64, 64, 3)).reshape(ours.shape)
    assert np.abs(theirs).max() > 0.1
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("alpha,beta", [(0.25, 0.5), (0.5, 0.5), (0.125, 0.5), (0.25, 1.0)])
def test_gst_spatial_kernels_are_sliced_imagenet_kernels(preset, alpha, beta):
    depth, path, backbone = preset
    model = build_classifier(depth, 5, alpha=alpha, beta=beta, weights=str(path))
    fresh = build_classifier(depth, 5, alpha=alpha, beta=beta)
    units = model.units()
    assert len(units) == 16  # ResNet-18: 8 basic blocks x 2 units; ResNet-50: 16 bottlenecks x 1
    for unit in units:
        (kernel,) = backbone.get_layer(f"{unit.name}_conv").get_weights()
        bn = backbone.get_layer(f"{unit.name}_bn").get_weights()
        cin = kernel.shape[2]
        cin_s = cin if beta == 1.0 else int(cin * beta)
        np.testing.assert_array_equal(unit.spatial_kernel.numpy(), kernel[:, :, :cin_s, : unit.spatial_filters])
        for ours, theirs in zip(unit.bn.get_weights(), bn, strict=True):
            np.testing.assert_array_equal(ours, theirs)
        # temporal kernels keep a Kaiming (fan_out) init: zero mean, std sqrt(2 / fan_out)
        t = unit.temporal_kernel.numpy()
        assert abs(t.std() - np.sqrt(2.0 / (27 * unit.temporal_filters))) < 0.2 * t.std()
    # everything outside the units is copied; the classifier is not
    np.testing.assert_array_equal(model.get_layer("stem").kernel.numpy(), backbone.get_layer("conv1_conv").kernel.numpy())
    for ours, theirs in zip(model.get_layer("stem").bn.get_weights(), backbone.get_layer("conv1_bn").get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    shortcut = model.get_layer("stack1_block0_0")
    np.testing.assert_array_equal(shortcut.kernel.numpy(), backbone.get_layer("stack1_block0_0_conv").kernel.numpy())
    np.testing.assert_array_equal(shortcut.bn.beta.numpy(), backbone.get_layer("stack1_block0_0_bn").beta.numpy())
    np.testing.assert_array_equal(
        model.get_layer("frame_logits").bias.numpy(), fresh.get_layer("frame_logits").bias.numpy()
    )


def test_depth_mismatch_is_rejected(preset):
    depth, path, _ = preset
    other = 50 if depth == 18 else 101
    with pytest.raises(ValueError, match="not a plain ResNet"):
        build_classifier(other, 5, weights=str(path))


def test_saved_keras_hub_backbone_file_is_accepted(tmp_path):
    backbone = random_backbone(18, seed=3)
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    model = keras_gst.GSTResNet18(4, block="c2d", weights=str(path))
    np.testing.assert_array_equal(
        model.get_layer("stack3_block1_2").kernel.numpy(), backbone.get_layer("stack3_block1_2_conv").kernel.numpy()
    )


def test_own_keras_and_weights_h5_files_load(tmp_path):
    source = keras_gst.GSTResNet18(4, weights=None)
    source.save(tmp_path / "m.keras")
    source.save_weights(tmp_path / "m.weights.h5")
    x = np.random.default_rng(4).random((1, 2, 32, 32, 3)).astype("float32")
    expected = np.asarray(source(x, training=False))
    for name in ["m.keras", "m.weights.h5"]:
        model = keras_gst.GSTResNet18(4, weights=str(tmp_path / name))
        np.testing.assert_allclose(model(x, training=False), expected, atol=1e-6)
    with pytest.raises(ValueError, match="load the saved .keras model or preset instead"):
        keras_gst.GSTResNet18(7, weights=str(tmp_path / "m.weights.h5"))


def test_missing_path_and_resnet34_imagenet_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        keras_gst.GSTResNet18(4, weights=str(tmp_path / "nope.pth"))
    with pytest.raises(ValueError, match="torchvision"):
        keras_gst.GSTResNet34(4, weights="imagenet")


def test_imagenet_offline_names_the_fix():
    """Offline (as in CI) the hub download fails; the error must say what to do instead."""
    with pytest.raises(RuntimeError, match="weights=None") as info:
        keras_gst.GSTResNet18(4, weights="imagenet")
    assert "resnet_18_imagenet" in str(info.value)


def test_cli_info_json():
    code, out, err = run_cli("info", "--model", "gst_resnet50", "--alpha", "0.25", "--num-classes", "174", "--frames",
                             "8", "--size", "224", "--json")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["params"] == 21_035_246
    assert result["params_total"] == 21_088_366
    assert abs(result["macs"] - 29.00e9) / 29.00e9 < 0.005


def test_other_class_count_keeps_backbone_and_reinitialises_head(tmp_path):
    source = keras_gst.GSTResNet18(174, weights=None)
    source.save(tmp_path / "ssv2.keras")
    with pytest.warns(UserWarning, match="frame_logits"):
        model = keras_gst.GSTResNet18(5, weights=str(tmp_path / "ssv2.keras"))
    report = model.load_report
    assert [name for name, _ in report.skipped] == ["frame_logits"]
    assert "re-initialised" in report.skipped[0][1] and "174" in report.skipped[0][1]
    assert len(report.loaded) == len([layer for layer in model.backbone.layers if layer.weights])  # all but the head
    for name in ["stem", "stack3_block1_2"]:
        for ours, theirs in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
    assert model.get_layer("frame_logits").kernel.shape == (512, 5)


def test_backbone_mismatch_names_the_layers(tmp_path):
    keras_gst.GSTResNet18(5, weights=None, alpha=0.5).save(tmp_path / "a.keras")
    with pytest.raises(ValueError, match="stack0_block0_1: shapes") as info:
        keras_gst.GSTResNet18(5, weights=str(tmp_path / "a.keras"))
    assert "stack3_block1_2" in str(info.value)


def test_authors_checkpoint_with_other_class_count_drops_only_the_head(tmp_path):
    torch = pytest.importorskip("torch")
    from keras_gst.benchmarks import torch_reference

    reference = torch_reference.TemporalModel(174, 2, depth=50)
    torch_reference.randomize_(reference, seed=1)
    path = tmp_path / "ssv2_gst_r50.pth.tar"
    torch.save(torch_reference.authors_checkpoint(reference), path)
    model = keras_gst.GSTResNet50(5, weights=str(path))
    report = model.load_report
    assert {"module.new_fc.weight", "module.new_fc.bias"} <= set(report.dropped)
    assert "module.base_model.layer4.2.Tconv.weight" in report.loaded
    np.testing.assert_allclose(
        model.get_layer("stack3_block2_2").temporal_kernel.numpy(),
        reference.base_model.layer4[2].Tconv.weight.detach().numpy().transpose(2, 3, 4, 1, 0),
    )
    assert model.get_layer("frame_logits").kernel.shape == (2048, 5)
