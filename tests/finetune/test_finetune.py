"""Fine-tuning on class folders (issue 10): `keras-gst train --data DIR --out OUT`, the load report, partial BN,
the stratified split, labels.txt / model.keras / model.tflite, `keras-gst predict --labels`, and the errors
for bad layouts. The dataset mixes real videos (tests/assets/real) with synthetic clips."""

import json
import logging
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from cli_helpers import run_cli
from keras_gst.data import (
    AnnotationError,
    Annotations,
    DataSpec,
    SkipLog,
    VideoRecord,
    build_dataset,
    read_class_folders,
    split_annotations,
)
from keras_gst.data.synthetic import make_clip, write_video

FRAMES, SIZE = 4, 64
REAL_VIDEOS = ("demo.mp4", "test.avi", "bottle-detection.mp4", "sthv2/13201.webm")
CLASSES = ["left_to_right", "real", "right_to_left"]  # sorted subfolder names


def _synthetic(folder, label, count, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_video(str(folder / f"clip{i}.mp4"), make_clip(label, rng, frames=8, size=48))


def _class_folders(root, real_data):
    """left_to_right / right_to_left: 4 synthetic clips each; real: 4 real videos (mp4, avi, webm)."""
    _synthetic(root / "left_to_right", 0, 4, seed=0)
    _synthetic(root / "right_to_left", 1, 4, seed=1)
    (root / "real").mkdir()
    for name in REAL_VIDEOS:
        shutil.copy(real_data / "videos" / name, root / "real")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, real_data):
    return _class_folders(tmp_path_factory.mktemp("folders") / "data", real_data)


@pytest.fixture(scope="module")
def source_174(tmp_path_factory):
    """A saved 174-class GST-R18 (a Something-Something-sized head) to fine-tune from."""
    from keras_gst.applications import build_classifier

    path = tmp_path_factory.mktemp("source") / "sthv1_174.keras"
    build_classifier(18, 174, num_frames=FRAMES, input_shape=(SIZE, SIZE, 3)).save(path)
    return path


@pytest.fixture(scope="module")
def trained(dataset, source_174, tmp_path_factory):
    """One epoch of GST-R18 (4 x 64 x 64) on the class folders from the 174-class model, partial BN, default
    export (int8, calibrated on the training clips)."""
    out = tmp_path_factory.mktemp("run") / "out"
    code, stdout, stderr = run_cli("train", "--data", dataset, "--out", out, "--model", "gst_resnet18", "--frames", FRAMES,
                                "--size", SIZE, "--epochs", 1, "--batch-size", 3, "--weights", source_174, "--freeze-bn",
                                "--no-histograms", "--verbose", 1)
    assert code == 0, stdout + stderr
    return out, stdout


@pytest.mark.large
def test_train_on_class_folders_writes_labels_best_model_and_tflite(trained):
    out, stdout = trained
    assert (out / "labels.txt").read_text().splitlines() == CLASSES
    for name in ("model.keras", "model.tflite", "best.keras"):
        assert (out / name).is_file(), name
    assert (out / "model.keras").read_bytes() == (out / "best.keras").read_bytes()
    # the load report: every backbone layer loaded, the 174-class head named as re-initialised
    assert "loaded 20 layers, skipped 1" in stdout
    assert "skipped frame_logits: shape [(512, 174), (174,)]" in stdout and "(512, 3), (3,)] here: re-initialised" in stdout
    assert "partial BN: 19 BatchNorm layers frozen, the first (stem/bn) trains" in stdout
    # stratified split (4 clips per class -> 1 validation clip each), 3 classes
    assert "3 classes, 9 training clips, 3 validation clips" in stdout
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["patience"] == 5 and recipe["freeze_bn"] is True and recipe["scale_size"] == round(SIZE * 256 / 224)
    # the export's parity report, int8 by default
    parity = [line for line in stdout.splitlines() if line.startswith("parity: tflite int8")]
    assert parity and parity[0].endswith("-> OK"), stdout


@pytest.mark.large
@pytest.mark.parametrize("model_file", ["model.keras", "model.tflite"])
def test_predict_names_a_class_of_labels_txt(trained, real_data, model_file):
    out, _ = trained
    import keras

    video = real_data / "videos" / "test.mp4"
    code, stdout, stderr = run_cli("predict", video, "--model", out / model_file, "--labels", out / "labels.txt",
                                "--topk", 2, "--json", "--timing", "--runs", 2)
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert (result["frames"], result["size"]) == (FRAMES, SIZE)
    # reference: the Keras model on the tf.data evaluation view of the video (the training pipeline's
    # decoder and transforms, not predict's), softmax in NumPy, names from labels.txt
    (clip, _), = build_dataset([VideoRecord(str(video), None, 0)], DataSpec(num_frames=FRAMES, scale_size=round(SIZE * 256 / 224), crop_size=SIZE), training=False, batch_size=1).take(1)
    logits = np.asarray(keras.saving.load_model(out / "model.keras")(clip, training=False))[0].astype(np.float64)
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    expected = {CLASSES[i]: probs[i] for i in range(len(CLASSES))}
    assert [r["rank"] for r in result["topk"]] == [1, 2] and len({r["label"] for r in result["topk"]}) == 2
    # predict decodes and crops with its own NumPy path: within 0.01 of tf.data's view here; int8 within 0.1
    tolerance = 0.01 if model_file.endswith(".keras") else 0.1
    for r in result["topk"]:
        assert r["probability"] == pytest.approx(expected[r["label"]], abs=tolerance), (r, expected)
    if model_file.endswith(".keras"):
        assert [r["label"] for r in result["topk"]] == sorted(expected, key=expected.get, reverse=True)[:2]
    assert all(result["timing"][k] > 0 for k in ("decode_ms", "preprocess_ms", "model_ms")) and result["timing"]["runs"] == 2


@pytest.mark.large
def test_keras_and_tflite_agree_on_the_real_video(trained, real_data):
    from keras_gst.export.predictor import load_predictor

    out, _ = trained
    video = str(real_data / "videos" / "demo.mp4")
    from keras_gst.export.clips import load_clip

    clip = load_clip(video, FRAMES, SIZE)[None]
    keras_logits = load_predictor(out / "model.keras").logits(clip)[0]
    tflite_logits = load_predictor(out / "model.tflite").logits(clip)[0]
    assert np.argmax(keras_logits) == np.argmax(tflite_logits)
    assert np.max(np.abs(keras_logits - tflite_logits)) <= 0.25 * np.max(np.abs(keras_logits))


def test_freeze_batchnorm_keeps_the_stem_bn_training_only():
    import keras

    from keras_gst.applications import build_classifier
    from keras_gst.training.finetune import freeze_batchnorm

    model = build_classifier(18, 3, num_frames=2, input_shape=(32, 32, 3))
    frozen = freeze_batchnorm(model)
    bns = [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(frozen) == len(bns) - 1 == 19
    assert [layer.path for layer in bns if layer.trainable] == ["stem/bn"]
    before = {layer.path: np.array(layer.moving_mean) for layer in bns}
    model(np.random.default_rng(0).normal(size=(2, 2, 32, 32, 3)).astype("float32"), training=True)
    changed = [layer.path for layer in bns if not np.array_equal(before[layer.path], np.array(layer.moving_mean))]
    assert changed == ["stem/bn"]  # frozen BNs run in inference mode in training too
    assert not any(v.path.endswith(("gamma", "beta")) and "stem/bn" not in v.path for v in model.trainable_variables)


def test_split_is_stratified_and_seeded():
    records = [VideoRecord(f"c{c}_{i}.mp4", None, c) for c in range(3) for i in range(5 + 5 * c)]
    data = Annotations(records, ["a", "b", "c"])
    train, val = split_annotations(data, 0.2, seed=3)
    assert sorted(r.label for r in val) == [0, 1, 1, 2, 2, 2]  # round(0.2 x 5, 10, 15) per class
    assert len(train) + len(val) == len(data) and not {r.path for r in train} & {r.path for r in val}
    again = split_annotations(data, 0.2, seed=3)[1]
    assert [r.path for r in again] == [r.path for r in val]
    assert [r.path for r in split_annotations(data, 0.2, seed=4)[1]] != [r.path for r in val]
    single = Annotations([VideoRecord("a.mp4", None, 0), VideoRecord("b.mp4", None, 1)], ["a", "b"])
    with pytest.raises(ValueError, match="leaves no validation clip"):
        split_annotations(single, 0.2)


def test_format_load_report_lists_torch_skips():
    from keras_gst.training.finetune import format_load_report
    from keras_gst.weights.torch_convert import ConversionReport

    report = ConversionReport("authors", ["conv1.weight", "bn1.weight"], ["new_fc.weight", "bn1.num_batches_tracked"],
                              ["frame_logits/kernel", "frame_logits/bias"], {})
    text = format_load_report(report, "gst.pth")
    assert "loaded 2 tensors, skipped 2, kept initialised 2" in text
    assert "skipped new_fc.weight: classifier of another class count / ImageNet classes: the head frame_logits is re-initialised" in text
    assert "skipped bn1.num_batches_tracked: a BatchNorm step counter" in text
    assert "kept initialised frame_logits/kernel" in text
    assert format_load_report(None, None).startswith("weights: none")


# ---- bad layouts: each gets an error naming the path (or a counted, logged skip) ----

def _trainrun_cli(*argv):
    return run_cli("train", *argv, "--frames", FRAMES, "--size", SIZE, "--weights", "none", "--epochs", 1)


def test_empty_class_folder(tmp_path):
    _synthetic(tmp_path / "a", 0, 2, seed=0)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".DS_Store").write_text("")
    with pytest.raises(AnnotationError, match=re.escape(f"class folder {tmp_path / 'b'} holds no video files")):
        read_class_folders(tmp_path)
    code, _, stderr = _trainrun_cli("--data", tmp_path, "--out", tmp_path / "out")
    assert code == 2 and f"class folder {tmp_path / 'b'} holds no video files" in stderr


def test_single_class_and_missing_directory(tmp_path):
    _synthetic(tmp_path / "only", 0, 2, seed=0)
    code, _, stderr = _trainrun_cli("--data", tmp_path, "--out", tmp_path / "out")
    assert code == 2 and f"{tmp_path}: a classifier needs at least 2 class folders" in stderr and "'only'" in stderr
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_class_folders(tmp_path / "nowhere")


def test_files_that_are_not_videos(tmp_path, caplog):
    _synthetic(tmp_path / "a", 0, 2, seed=0)
    _synthetic(tmp_path / "b", 1, 2, seed=1)
    (tmp_path / "a" / "notes.txt").write_text("not a video")
    (tmp_path / "README.md").write_text("stray")
    with pytest.raises(AnnotationError, match=re.escape(f"{tmp_path / 'README.md'}: a file beside the class folders")):
        read_class_folders(tmp_path)
    (tmp_path / "README.md").unlink()
    with pytest.raises(AnnotationError, match=re.escape(f"{tmp_path / 'a' / 'notes.txt'}: not a video file")):
        read_class_folders(tmp_path, on_error="raise")
    code, _, stderr = _trainrun_cli("--data", tmp_path, "--out", tmp_path / "out", "--on-error", "raise")
    assert code == 2 and "notes.txt: not a video file" in stderr
    with caplog.at_level(logging.WARNING, logger="keras_gst.data.folders"):
        data = read_class_folders(tmp_path, on_error="skip")
    assert len(data) == 4 and data.class_names == ["a", "b"] and len(data.skipped) == 1
    assert "notes.txt" in data.skipped[0] and any("notes.txt" in r.message for r in caplog.records)


def test_unreadable_video_is_raised_or_counted(tmp_path):
    _synthetic(tmp_path / "a", 0, 2, seed=0)
    _synthetic(tmp_path / "b", 1, 2, seed=1)
    broken = tmp_path / "b" / "broken.mp4"
    broken.write_bytes(b"\x00\x01 not an mp4 " * 64)
    data = read_class_folders(tmp_path)
    assert str(broken) in [r.path for r in data]
    spec = DataSpec(num_frames=FRAMES, scale_size=36, crop_size=32)
    with pytest.raises(tf.errors.OpError, match="broken.mp4"):
        list(build_dataset(data, spec.replace(on_error="raise"), batch_size=5))
    log = SkipLog()
    clips = sum(int(x.shape[0]) for x, _ in build_dataset(data, spec.replace(on_error="skip"), batch_size=5, skip_log=log))
    assert clips == 4 and log.total == 1 and str(broken) in log.epochs[0][0][0]


def test_list_naming_missing_files_and_labels_beyond_the_classes(tmp_path):
    _synthetic(tmp_path / "videos", 0, 2, seed=0)
    (tmp_path / "classes.txt").write_text("x\ny\n")
    (tmp_path / "train.txt").write_text("videos/clip0.mp4 0\nvideos/clip1.mp4 1\nvideos/gone.mp4 1\n")
    code, _, stderr = _trainrun_cli("--train-list", tmp_path / "train.txt", "--class-file", tmp_path / "classes.txt",
                                 "--on-error", "raise", "--out", tmp_path / "out")
    assert code == 2 and f"{tmp_path / 'train.txt'}, line 3: source not found: {tmp_path / 'videos' / 'gone.mp4'}" in stderr
    (tmp_path / "train.txt").write_text("videos/clip0.mp4 0\nvideos/clip1.mp4 5\n")
    code, _, stderr = _trainrun_cli("--train-list", tmp_path / "train.txt", "--class-file", tmp_path / "classes.txt",
                                 "--on-error", "raise", "--out", tmp_path / "out")
    assert code == 2 and f"{tmp_path / 'train.txt'}, line 2: label 5 is out of range [0, 2)" in stderr
    # without class names the training list fixes the class count; the validation list must stay inside it
    (tmp_path / "train.txt").write_text("videos/clip0.mp4 0\nvideos/clip1.mp4 1\n")
    (tmp_path / "val.txt").write_text("videos/clip0.mp4 0\nvideos/clip1.mp4 7\n")
    code, _, stderr = _trainrun_cli("--train-list", tmp_path / "train.txt", "--val-list", tmp_path / "val.txt",
                                 "--out", tmp_path / "out")
    assert code == 2 and f"{tmp_path / 'val.txt'}: 1 labels are beyond the 2 classes" in stderr and "clip1.mp4 (label 7)" in stderr


def test_data_and_train_list_together_is_an_error(tmp_path, dataset):
    code, _, stderr = _trainrun_cli("--data", dataset, "--train-list", tmp_path / "train.txt", "--out", tmp_path / "out")
    assert code == 2 and "error: argument --data: " in stderr and "not both" in stderr


def test_weights_with_another_backbone_is_an_error_naming_the_layers(tmp_path, dataset):
    from keras_gst.applications import build_classifier

    c3d = tmp_path / "c3d_174.keras"
    build_classifier(18, 174, block="c3d", num_frames=FRAMES, input_shape=(SIZE, SIZE, 3)).save(c3d)
    code, _, stderr = run_cli("train", "--data", dataset, "--out", tmp_path / "out", "--model", "gst_resnet18",
                           "--frames", FRAMES, "--size", SIZE, "--weights", c3d, "--epochs", 1)
    assert code == 2 and f"Cannot load weights from {c3d}" in stderr
    assert "stack0_block0_1: shapes" in stderr and "frame_logits" not in stderr  # the head alone would be re-initialised
    code, _, stderr = run_cli("train", "--data", dataset, "--out", tmp_path / "out", "--frames", FRAMES, "--size", SIZE,
                           "--weights", tmp_path / "missing.pth", "--epochs", 1)
    assert code == 2 and "error: argument --weights: " in stderr and "no such file or directory" in stderr
    assert str(tmp_path / "missing.pth") in stderr


@pytest.mark.large
def test_early_stopping_on_validation_top1(dataset, tmp_path):
    """Patience 1 stops at the first epoch without a better validation top-1. With 3 validation clips top-1
    can improve at most 3 times after epoch 1, so the run stops by epoch 5 of 6 (lr 0 and frozen BNs: in
    practice at epoch 2)."""
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("train", "--data", dataset, "--out", out, "--model", "gst_resnet18", "--frames", 2,
                                "--size", 32, "--epochs", 6, "--batch-size", 3, "--lr", 0, "--weights", "none",
                                "--freeze-bn", "--patience", 1, "--export", "none", "--no-histograms", "--no-eval",
                                "--verbose", 1)
    assert code == 0, stdout + stderr
    history = (out / "history.csv").read_text().strip().splitlines()
    epochs = len(history) - 1  # after the header
    assert 2 <= epochs <= 5, history
    assert f"Epoch {epochs}: early stopping" in stdout
    assert not (out / "model.tflite").exists() and (out / "model.keras").is_file()
    # partial BN without pretrained weights freezes BatchNorms at their initial statistics: warned
    assert "warning: freeze_bn=True with weights=None: partial BN keeps the pretrained BatchNorm statistics" in stderr
    assert "warning: 9 training clips at a global batch of 3 make 3 step(s) per epoch (fewer than 5)" in stderr


def test_failure_before_training_names_the_flag_and_writes_nothing(tmp_path, dataset):
    """No ImageNet preset for ResNet-34: the error names the flag (--weights) and the run leaves no OUT folder
    (no recipe.json) behind."""
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("train", "--data", dataset, "--out", out, "--model", "gst_resnet34", "--frames", 2,
                                "--size", 32, "--batch-size", 2, "--weights", "imagenet", "--epochs", 1)
    assert code == 2 and stderr.count("error: ") == 1, stderr
    assert "error: argument --weights: " in stderr and "ResNet-34" in stderr
    assert not out.exists()


@pytest.mark.large
def test_small_data_uses_every_clip_each_epoch_and_warns(tmp_path):
    """15 clips at batch 8: 2 steps per epoch (not 1 with 7 clips never used), and a warning."""
    import keras

    from keras_gst.data import read_class_folders
    from keras_gst.training.recipe import Recipe, dataset_options

    for label, name in enumerate(("a", "b", "c")):  # 6 clips each: 1 to validation, 5 to training
        _synthetic(tmp_path / "data" / name, label, 6, seed=label)
    code, stdout, stderr = run_cli("train", "--data", tmp_path / "data", "--out", tmp_path / "out",
                                "--model", "gst_resnet18", "--frames", 2, "--size", 32, "--batch-size", 8, "--epochs", 1,
                                "--weights", "none", "--export", "none", "--no-eval", "--no-histograms", "--verbose", 1)
    assert code == 0, stderr
    assert "15 training clips" in stdout and "global batch 8" in stdout and "2 steps/epoch" in stdout
    assert ("warning: 15 training clips at a global batch of 8 make 2 step(s) per epoch (fewer than 5)" in stderr
            and "smaller batch_size (e.g. 3)" in stderr), stderr
    # the training stream fit reads: one label per clip, 2 batches of 8 hold all 15 clips
    records = read_class_folders(tmp_path / "data").records[:15]
    unique = [type(r)(r.path, r.num_frames, i) for i, r in enumerate(records)]
    options = dataset_options(Recipe(num_frames=2, crop_size=32, scale_size=36, seed=0), True, None, 15)
    keras.utils.set_random_seed(0)
    seen = set()
    for _, labels in build_dataset(unique, batch_size=8, **options).take(2):
        seen.update(np.asarray(labels).reshape(len(labels), -1).argmax(-1).tolist() if np.ndim(labels) > 1
                    else np.asarray(labels).tolist())
    assert seen == set(range(15))
