"""PyTorch -> keras_gst converter: logits parity with an independent torch GST-ResNet on real frames.

The torch reference (tests/torch_reference.py) follows the authors' code (docs/paper.md) and names its tensors like the authors'
checkpoints; all its weights and BatchNorm statistics are random (BN statistics: the batch statistics of
the clip, perturbed per channel, so activations stay well scaled through 50 layers and logits are O(1)).
"""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from keras_gst.benchmarks import torch_reference  # noqa: E402  (the PyTorch reference, needs torch)

import keras  # noqa: E402

from keras_gst.cli import main as cli_main  # noqa: E402
from keras_gst.applications import build_classifier  # noqa: E402
from keras_gst.models import GSTVideoClassifier, feature_model, per_frame_model  # noqa: E402
from keras_gst.weights.torch_convert import inspect_checkpoint, load_torch_weights  # noqa: E402

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 174
TOL = 1e-4
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CONFIGS = {  # id -> (alpha, beta)
    "gst_alpha1/2": (0.5, 0.5),
    "gst_alpha1/4": (0.25, 0.5),
    "gst_alpha1/8": (0.125, 0.5),
    "gst_large": (0.25, 1.0),
}


def _frames(folder, num_frames=NUM_FRAMES, size=SIZE):
    """TSN test sampling (middle frame of T segments), RGB, resized, ImageNet-normalised."""
    files = sorted(folder.glob("*.jpg"))
    seg = len(files) / num_frames
    picks = [files[int(seg * k + seg / 2)] for k in range(num_frames)]
    frames = [cv2.resize(cv2.imread(str(f))[..., ::-1], (size, size), interpolation=cv2.INTER_AREA) for f in picks]
    return ((np.stack(frames).astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


@pytest.fixture(scope="module")
def clips(real_data):
    """Two real clips (B=2): SSv1-style folder 57082 and SSv2 13201, 4 frames x 64 x 64 x 3."""
    frames = real_data / "rawframes"
    return np.stack([_frames(frames / "gst_style" / "57082"), _frames(frames / "ssv2" / "13201")])


def _torch_gst(clips, alpha, beta, seed=0, num_classes=NUM_CLASSES):
    model = torch_reference.TemporalModel(num_classes, clips.shape[1], 50, alpha, beta)
    torch_reference.randomize_(model, seed)
    torch_reference.calibrate_bn_(model, torch_reference.clip_to_torch(clips), seed)
    return model.eval()


def _torch_logits(model, clips):
    with torch.no_grad():
        return model(torch_reference.clip_to_torch(clips)).numpy()


def _keras_gst(alpha, beta, **kwargs):
    return build_classifier(50, kwargs.pop("num_classes", NUM_CLASSES), alpha=alpha, beta=beta, **kwargs)


def _max_diff(a, b):
    assert a.shape == b.shape
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.fixture(scope="module")
def default_pair(clips):
    """GST alpha=1/4 torch model, its checkpoint and logits (shared by several tests)."""
    model = _torch_gst(clips, 0.25, 0.5, seed=7)
    return model, torch_reference.authors_checkpoint(model), _torch_logits(model, clips)


# ---------------------------------------------------------------------------------------------------
# The reference itself


def test_torch_reference_matches_reference_md_parameter_counts():
    expected = {"gst_alpha1/2": 23_864_558, "gst_alpha1/4": 21_035_246, "gst_alpha1/8": 19_620_590, "gst_large": 29_523_182}
    for key, (alpha, beta) in CONFIGS.items():
        model = torch_reference.TemporalModel(NUM_CLASSES, NUM_FRAMES, 50, alpha, beta)
        assert sum(p.numel() for p in model.parameters()) == expected[key], key


def test_authors_checkpoint_layout(default_pair):
    _, checkpoint, _ = default_pair
    assert set(checkpoint) == {"epoch", "arch", "state_dict", "best_prec1"}
    keys = checkpoint["state_dict"]
    for key in [
        "module.base_model.conv1.weight",
        "module.base_model.layer1.0.conv2.weight",
        "module.base_model.layer1.0.Tconv.weight",
        "module.base_model.layer1.0.downsample.0.weight",
        "module.base_model.layer4.2.bn2.running_var",
        "module.base_model.layer4.2.bn2.num_batches_tracked",
        "module.new_fc.weight",
    ]:
        assert key in keys, key
    assert tuple(keys["module.base_model.layer1.0.conv2.weight"].shape) == (48, 32, 1, 3, 3)
    assert tuple(keys["module.base_model.layer1.0.Tconv.weight"].shape) == (16, 32, 3, 3, 3)


# ---------------------------------------------------------------------------------------------------
# Authors' checkpoints: logits parity


@pytest.mark.parametrize("config", list(CONFIGS))
def test_authors_checkpoint_logits_parity(config, clips, tmp_path):
    alpha, beta = CONFIGS[config]
    model = _torch_gst(clips, alpha, beta, seed=list(CONFIGS).index(config))
    expected = _torch_logits(model, clips)
    assert np.std(expected) > 0.3  # logits are informative, not all ~0
    path = tmp_path / "gst_checkpoint.pth.tar"
    torch.save(torch_reference.authors_checkpoint(model), path)

    if beta == 1.0:  # also through the model's `weights=` dispatch
        keras_model = _keras_gst(alpha, beta, weights=str(path))
    else:
        keras_model = _keras_gst(alpha, beta)
        report = load_torch_weights(keras_model, str(path))
        assert report.source == "authors"
        assert len(report.loaded) == 283 and report.kept_init == []
        assert all(k.endswith("num_batches_tracked") for k in report.dropped) and len(report.dropped) == 53
        assert report.meta == {"epoch": 70, "arch": "resnet50", "best_prec1": 47.0}
    got = keras_model(clips, training=False)
    diff = _max_diff(got, expected)
    print(f"{config}: max |keras - torch| = {diff:.2e} (logits std {np.std(expected):.2f})")
    assert diff <= TOL


def test_per_frame_logits_and_conv2d_temporal_impl(default_pair, clips):
    model, checkpoint, expected = default_pair
    with torch.no_grad():
        x = torch_reference.clip_to_torch(clips).view(2, NUM_FRAMES, 3, SIZE, SIZE).transpose(1, 2)
        per_frame = model.new_fc(model.base_model(x)).view(2, NUM_FRAMES, -1).numpy()
    keras_model = _keras_gst(0.25, 0.5, temporal_impl="conv2d")
    load_torch_weights(keras_model, checkpoint)
    assert _max_diff(per_frame_model(keras_model)(clips, training=False), per_frame) <= TOL
    assert _max_diff(keras_model(clips, training=False), expected) <= TOL


def test_sensitivity_time_flipped_temporal_kernels_go_red(default_pair, clips):
    """The parity comparison can fail: reversing the temporal taps of every Tconv moves the logits."""
    _, checkpoint, expected = default_pair
    state = {k: (v.flip(2) if ".Tconv." in k else v) for k, v in checkpoint["state_dict"].items()}
    keras_model = _keras_gst(0.25, 0.5)
    load_torch_weights(keras_model, state)
    assert _max_diff(keras_model(clips, training=False), expected) > 100 * TOL


@pytest.mark.parametrize("prefix", ["", "module."])
def test_bare_state_dict_with_and_without_dataparallel_prefix(default_pair, clips, prefix):
    model, _, expected = default_pair
    state = {prefix + k: v for k, v in model.state_dict().items()}  # base_model.* / new_fc.*
    keras_model = _keras_gst(0.25, 0.5)
    assert load_torch_weights(keras_model, state).source == "authors"
    assert _max_diff(keras_model(clips, training=False), expected) <= TOL


def test_state_dict_of_numpy_arrays(default_pair, clips):
    model, _, expected = default_pair
    state = {k: v.numpy() for k, v in model.base_model.state_dict().items()}  # no prefix, no head
    state.update({f"new_fc.{k}": v.numpy() for k, v in model.new_fc.state_dict().items()})
    keras_model = _keras_gst(0.25, 0.5)
    load_torch_weights(keras_model, state)
    assert _max_diff(keras_model(clips, training=False), expected) <= TOL


def test_legacy_torch_file_format_and_tensor_metadata(default_pair, clips, tmp_path):
    """2019-era checkpoints: PyTorch's pre-1.6 (non-zip) format; best_prec1 saved as a tensor."""
    _, checkpoint, expected = default_pair
    path = tmp_path / "GST_somethingv2_resnet50_segment4_best.pth.tar"
    torch.save({**checkpoint, "best_prec1": torch.tensor(61.5)}, path, _use_new_zipfile_serialization=False)
    keras_model = _keras_gst(0.25, 0.5)
    report = load_torch_weights(keras_model, str(path))
    assert report.meta["best_prec1"] == pytest.approx(61.5)
    assert _max_diff(keras_model(clips, training=False), expected) <= TOL


class _NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "with_code.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "args": _NotATensor()}, path)
    with pytest.raises(ValueError, match=r"weights_only=True\) failed \(WeightsUnpickler error: Unsupported global: .*_NotATensor.*never unpickles code"):
        load_torch_weights(build_classifier(18, 2), str(path))


def test_inspect_checkpoint(default_pair, clips):
    _, checkpoint, _ = default_pair
    info = inspect_checkpoint(checkpoint)
    assert (info["source"], info["depth"], info["alpha"], info["beta"], info["num_classes"]) == (
        "authors", 50, 0.25, 0.5, NUM_CLASSES
    )
    large = torch_reference.authors_checkpoint(torch_reference.TemporalModel(10, NUM_FRAMES, 50, 0.125, 1.0))
    info = inspect_checkpoint(large)
    assert (info["alpha"], info["beta"], info["num_classes"]) == (0.125, 1.0, 10)


# ---------------------------------------------------------------------------------------------------
# Failures name the keys; the model is left unchanged


def _weights_snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def test_unexpected_key_is_named_and_model_unchanged(default_pair):
    _, checkpoint, _ = default_pair
    state = dict(checkpoint["state_dict"])
    state["module.base_model.layer2.1.extra_conv.weight"] = torch.zeros(3)
    keras_model = _keras_gst(0.25, 0.5)
    before = _weights_snapshot(keras_model)
    with pytest.raises(ValueError, match=r"unexpected key 'module\.base_model\.layer2\.1\.extra_conv\.weight'"):
        load_torch_weights(keras_model, {**checkpoint, "state_dict": state})
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights_snapshot(keras_model)))


def test_missing_key_is_named(default_pair):
    _, checkpoint, _ = default_pair
    state = {k: v for k, v in checkpoint["state_dict"].items() if k != "module.base_model.layer3.4.Tconv.weight"}
    with pytest.raises(ValueError, match=r"missing key 'module\.base_model\.layer3\.4\.Tconv\.weight' \(expected shape \(64, 128, 3, 3, 3\)\)"):
        load_torch_weights(_keras_gst(0.25, 0.5), state)


def test_shape_mismatch_is_named(default_pair):
    _, checkpoint, _ = default_pair
    with pytest.raises(ValueError, match=r"shape mismatch for 'module\.new_fc\.weight': checkpoint \(174, 2048\), model expects \(10, 2048\)"):
        load_torch_weights(_keras_gst(0.25, 0.5, num_classes=10), checkpoint)


def test_new_head_with_include_head_false(default_pair):
    _, checkpoint, _ = default_pair
    keras_model = _keras_gst(0.25, 0.5, num_classes=10)
    head = np.array(keras_model.get_layer("frame_logits").kernel)
    report = load_torch_weights(keras_model, checkpoint, include_head=False)
    assert "module.new_fc.weight" in report.dropped
    np.testing.assert_array_equal(np.array(keras_model.get_layer("frame_logits").kernel), head)
    bn2 = keras_model.get_layer("stack0_block0_2").bn
    np.testing.assert_allclose(
        np.array(bn2.moving_variance), checkpoint["state_dict"]["module.base_model.layer1.0.bn2.running_var"].numpy()
    )


def test_alpha_beta_mismatch_says_so(default_pair):
    _, checkpoint, _ = default_pair
    with pytest.raises(ValueError, match=r"checkpoint is GST alpha=1/4, beta=1/2; the model has alpha=1/4, beta=1"):
        load_torch_weights(_keras_gst(0.25, 1.0), checkpoint)


def test_baseline_model_refuses_authors_checkpoint(default_pair):
    _, checkpoint, _ = default_pair
    with pytest.raises(ValueError, match="block='gst'"):
        load_torch_weights(build_classifier(50, 174, block="c2d"), checkpoint)


def test_missing_torch_gives_install_hint(tmp_path, monkeypatch):
    path = tmp_path / "x.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "keras-gst\[torch\]"'):
        load_torch_weights(build_classifier(18, 2), str(path))


# ---------------------------------------------------------------------------------------------------
# torchvision ImageNet ResNets (authors' initialisation)


def _tv_kernel(state, key):
    return state[key].numpy().transpose(2, 3, 1, 0)


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_imagenet_resnet50_mapping(beta):
    tv = torch_reference.randomize_(torch_reference.TorchvisionResNet(50), seed=3)
    state = tv.state_dict()
    keras_model = _keras_gst(0.25, beta)
    temporal_before = np.array(keras_model.get_layer("stack2_block3_2").temporal_kernel)
    head_before = np.array(keras_model.get_layer("frame_logits").kernel)
    report = load_torch_weights(keras_model, state)
    assert report.source == "torchvision"
    assert {"fc.weight", "fc.bias"} <= set(report.dropped)
    assert len(report.kept_init) == 16 + 2  # 16 temporal kernels + the classifier

    np.testing.assert_array_equal(np.array(keras_model.get_layer("stem").kernel), _tv_kernel(state, "conv1.weight"))
    np.testing.assert_array_equal(np.array(keras_model.get_layer("stem").bn.moving_mean), state["bn1.running_mean"].numpy())
    for i, blocks in enumerate([3, 4, 6, 3]):
        for j in range(blocks):
            name, prefix = f"stack{i}_block{j}", f"layer{i + 1}.{j}"
            unit = keras_model.get_layer(f"{name}_2")
            full = _tv_kernel(state, f"{prefix}.conv2.weight")  # (3, 3, planes, planes)
            planes = full.shape[-1]
            cin_s = planes if beta == 1.0 else planes // 2
            np.testing.assert_array_equal(np.array(unit.spatial_kernel), full[:, :, :cin_s, : planes * 3 // 4])
            np.testing.assert_array_equal(np.array(unit.bn.gamma), state[f"{prefix}.bn2.weight"].numpy())
            np.testing.assert_array_equal(np.array(unit.bn.moving_variance), state[f"{prefix}.bn2.running_var"].numpy())
            for conv in ("1", "3"):
                np.testing.assert_array_equal(
                    np.array(keras_model.get_layer(f"{name}_{conv}").kernel), _tv_kernel(state, f"{prefix}.conv{conv}.weight")
                )
            if j == 0:
                np.testing.assert_array_equal(
                    np.array(keras_model.get_layer(f"{name}_0").kernel), _tv_kernel(state, f"{prefix}.downsample.0.weight")
                )
                np.testing.assert_array_equal(
                    np.array(keras_model.get_layer(f"{name}_0").bn.beta), state[f"{prefix}.downsample.1.bias"].numpy()
                )
    np.testing.assert_array_equal(np.array(keras_model.get_layer("stack2_block3_2").temporal_kernel), temporal_before)
    np.testing.assert_array_equal(np.array(keras_model.get_layer("frame_logits").kernel), head_before)


def test_imagenet_resnet18_c2d_features_match_torchvision_per_frame(clips):
    """A C2D ResNet-18 from torchvision weights is the 2D network applied to each frame."""
    tv = torch_reference.TorchvisionResNet(18).eval()
    torch_reference.randomize_(tv, seed=5)
    frames = torch.as_tensor(clips.reshape(-1, SIZE, SIZE, 3)).permute(0, 3, 1, 2)
    torch_reference.calibrate_bn_(tv, frames)
    tv.eval()
    state = {k: v for k, v in tv.state_dict().items() if not k.endswith("num_batches_tracked")}  # pre-0.4.1 files
    keras_model = build_classifier(18, 5, block="c2d")
    load_torch_weights(keras_model, state)
    with torch.no_grad():
        expected = tv.avgpool(tv.layer4(tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(frames))))))))).flatten(1)
    got = np.mean(np.asarray(feature_model(keras_model)(clips, training=False)), axis=(2, 3)).reshape(-1, 512)
    assert _max_diff(got, expected.numpy()) <= TOL


def test_imagenet_resnet34_gst_basic_blocks_through_weights_path(tmp_path):
    tv = torch_reference.randomize_(torch_reference.TorchvisionResNet(34), seed=11)
    path = tmp_path / "resnet34-b627a593.pth"
    torch.save(tv.state_dict(), path)
    keras_model = build_classifier(34, 48, alpha=0.25, beta=0.5, weights=str(path))
    state = tv.state_dict()
    for unit_index, conv in (("1", "conv1"), ("2", "conv2")):
        unit = keras_model.get_layer(f"stack1_block0_{unit_index}")  # first unit reads 64 channels, stride 2
        full = _tv_kernel(state, f"layer2.0.{conv}.weight")
        cin = full.shape[2]
        np.testing.assert_array_equal(np.array(unit.spatial_kernel), full[:, :, : cin // 2, :96])
        np.testing.assert_array_equal(np.array(unit.bn.beta), state[f"layer2.0.{conv.replace('conv', 'bn')}.bias"].numpy())


def test_imagenet_depth_mismatch_lists_keys():
    state = torch_reference.TorchvisionResNet(18).state_dict()
    with pytest.raises(ValueError, match=r"(?s)ResNet-18, 1000 classes\) into .*\(ResNet-34.*missing key 'layer1\.2\.conv1\.weight'"):
        load_torch_weights(build_classifier(34, 2), state)


# ---------------------------------------------------------------------------------------------------
# CLI end to end


def test_cli_convert_then_load_model_gives_same_logits(default_pair, clips, tmp_path, capsys):
    _, checkpoint, expected = default_pair
    path, out = tmp_path / "gst_ssv2_8f.pth.tar", tmp_path / "gst_r50.keras"
    torch.save(checkpoint, path)
    assert cli_main(["convert-torch", str(path), "--out", str(out)]) == 0  # architecture read from the file
    printed = capsys.readouterr().out
    assert "alpha=0.25, beta=0.5, 174 classes" in printed and "loaded 283 tensors" in printed
    loaded = keras.saving.load_model(out)
    assert isinstance(loaded, GSTVideoClassifier) and (loaded.alpha, loaded.beta) == (0.25, 0.5)
    assert _max_diff(loaded(clips, training=False), expected) <= TOL


def test_cli_convert_failing_midway_keeps_the_previous_output(default_pair, tmp_path, monkeypatch):
    """Before: convert-torch saved under the final name, so a save that failed midway (a full disk, a kill)
    left a torn out.keras in place of the previous good one."""
    _, checkpoint, _ = default_pair
    path, out = tmp_path / "gst_ssv2_8f.pth.tar", tmp_path / "gst_r50.keras"
    torch.save(checkpoint, path)
    out.write_bytes(b"the previous, complete model")

    def torn_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device", str(filepath))

    monkeypatch.setattr(GSTVideoClassifier, "save", torn_save)
    assert cli_main(["convert-torch", str(path), "--out", str(out)]) != 0  # cli.main: one line naming the file
    assert out.read_bytes() == b"the previous, complete model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gst_r50.keras", "gst_ssv2_8f.pth.tar"]


@pytest.mark.large
def test_cli_convert_to_preset_loads_with_from_preset_equal_to_torch(default_pair, clips, tmp_path, capsys):
    """convert-torch --out DIR writes a keras-hub preset; from_preset (on our class and on keras-hub's base
    classes) gives the torch reference's logits; its preprocessor takes uint8 pixels; labels ride along."""
    import keras_hub

    from keras_gst.export.inference import class_names_for
    from keras_gst.export.predictor import load_predictor
    from keras_gst.models import GSTBackbone

    _, checkpoint, expected = default_pair
    path, out = tmp_path / "gst_ssv2_8f.pth.tar", tmp_path / "gst_r50_ssv2_8f"
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(NUM_CLASSES)))
    torch.save(checkpoint, path)
    assert cli_main(["convert-torch", str(path), "--labels", str(labels), "--size", str(SIZE), "--out", str(out)]) == 0
    assert "labels: 174 class names" in capsys.readouterr().out
    assert {"config.json", "model.weights.h5", "task.json", "task.weights.h5", "preprocessor.json",
            "video_converter.json", "metadata.json", "labels.txt"} <= {p.name for p in out.iterdir()}
    assert class_names_for(load_predictor(str(out)), None) == [f"class {i}" for i in range(NUM_CLASSES)]
    loaded = GSTVideoClassifier.from_preset(str(out))
    assert _max_diff(loaded(clips, training=False), expected) <= TOL
    backbone = keras_hub.models.Backbone.from_preset(str(out))  # keras-hub's base class finds GSTBackbone
    assert isinstance(backbone, GSTBackbone) and backbone.get_config() == loaded.backbone.get_config()
    # the preset's preprocessor: [0, 255] pixels -> ImageNet normalisation (clips are normalised already)
    pixels = (clips * np.array([0.229, 0.224, 0.225]) + np.array([0.485, 0.456, 0.406])) * 255.0
    np.testing.assert_allclose(loaded.predict(pixels.astype("float32"), verbose=0), expected, atol=TOL)


def test_cli_rejects_contradicting_flags_and_wrong_source(default_pair, tmp_path):
    _, checkpoint, _ = default_pair
    path = tmp_path / "gst.pth"
    torch.save(checkpoint, path)
    with pytest.raises(SystemExit, match="--alpha 0.125, but the checkpoint has alpha=0.25"):
        cli_main(["convert-torch", str(path), "--alpha", "0.125", "--out", str(tmp_path / "x.keras")])
    with pytest.raises(SystemExit, match="drop --imagenet"):
        cli_main(["convert-torch", "--imagenet", str(path), "--out", str(tmp_path / "x.keras")])
    tv_path = tmp_path / "resnet18.pth"
    torch.save(torch_reference.TorchvisionResNet(18).state_dict(), tv_path)
    with pytest.raises(SystemExit, match="pass --imagenet"):
        cli_main(["convert-torch", str(tv_path), "--out", str(tmp_path / "x.keras")])


def test_cli_imagenet(tmp_path, capsys):
    tv = torch_reference.randomize_(torch_reference.TorchvisionResNet(18), seed=2)
    path, out = tmp_path / "resnet18.pth", tmp_path / "gst_r18.weights.h5"
    torch.save(tv.state_dict(), path)
    assert cli_main(["convert-torch", "--imagenet", str(path), "--num-classes", "48", "--out", str(out)]) == 0
    assert "source: torchvision" in capsys.readouterr().out
    model = build_classifier(18, 48)
    model.load_weights(out)
    np.testing.assert_array_equal(
        np.array(model.get_layer("stem").kernel), _tv_kernel(tv.state_dict(), "conv1.weight")
    )


# ---------------------------------------------------------------------------------------------------
# Full size (opt-in: -m large)


@pytest.mark.large
def test_full_size_authors_head_8x224_parity(real_data):
    """8 frames at 224x224 with the authors' exact head (AvgPool2d(7), only global at 224)."""
    clip = _frames(real_data / "rawframes" / "gst_style" / "57082", num_frames=8, size=224)[None]
    model = _torch_gst(clip, 0.25, 0.5, seed=21)
    model.base_model.avgpool = torch.nn.AvgPool2d(7, stride=1)
    expected = _torch_logits(model, clip)
    print(f"logits std {np.std(expected):.3f}")
    assert np.std(expected) > 0.3
    keras_model = _keras_gst(0.25, 0.5, num_frames=8, input_shape=(224, 224, 3))
    load_torch_weights(keras_model, torch_reference.authors_checkpoint(model))
    diff = _max_diff(keras_model(clip, training=False), expected)
    print(f"R50 8x224: max |keras - torch| = {diff:.2e}")
    assert diff <= TOL


@pytest.mark.large
def test_resnet101_parity(clips):
    """R101's block mapping (23 blocks in layer3) at the paper's alpha=1/4, beta=1/2; beta=1 changes the unit, not
    the depth, and its mapping is checked on R50 (test_authors_checkpoint_logits_parity[gst_large])."""
    model = torch_reference.TemporalModel(NUM_CLASSES, NUM_FRAMES, 101, 0.25, 0.5)
    torch_reference.randomize_(model, seed=31)
    torch_reference.calibrate_bn_(model, torch_reference.clip_to_torch(clips), seed=31)
    model.eval()
    expected = _torch_logits(model, clips)
    keras_model = build_classifier(101, NUM_CLASSES, alpha=0.25, beta=0.5)
    assert inspect_checkpoint(torch_reference.authors_checkpoint(model))["depth"] == 101
    load_torch_weights(keras_model, torch_reference.authors_checkpoint(model, arch="resnet101"))
    diff = _max_diff(keras_model(clips, training=False), expected)
    print(f"R101: max |keras - torch| = {diff:.2e}")
    assert diff <= TOL
