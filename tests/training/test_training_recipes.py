"""The recipes on the REAL annotation files of tests/assets/real, with the real frames/videos linked where each
format expects them: one recipe end to end (1 training step, validation, final evaluation, plots), and for every
recipe what differs per dataset (its flags, reader, classes and pipeline batches) without training."""

import contextlib
import importlib.util
import io
import json
import os

import pytest

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
TINY = ["--model", "gst_resnet18", "--weights", "none", "--frames", "4", "--scale-size", "40", "--crop-size", "32",
        "--batch-size", "1", "--epochs", "1", "--steps-per-epoch", "1", "--validation-steps", "1", "--verbose", "0"]


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(RECIPES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.symlink(os.path.abspath(src), dst)


def _sthv1(real, root):
    ann = real / "annotations" / "sthv1"
    for split in ("train", "validation"):
        for line in (ann / f"something-something-v1-{split}.csv").read_text().splitlines()[:2]:
            link(real / "rawframes" / "gst_style" / "57082", os.path.join(root, line.split(";")[0]))
    return ["--train-annotations", str(ann / "something-something-v1-train.csv"),
            "--val-annotations", str(ann / "something-something-v1-validation.csv"),
            "--class-file", str(ann / "something-something-v1-labels.csv")], 2


def _sthv2(real, root):
    ann = real / "annotations" / "sthv2"
    for vid in ("2", "13201", "3201"):  # SSv2 frame folders 0001.jpg...; the 4th entry (57082) is absent
        link(real / "rawframes" / "ssv2" / vid, os.path.join(root, vid))
    subset = str(ann / "rawframes_subset_labeled.json")
    return ["--train-annotations", subset, "--val-annotations", subset, "--source", "rawframes",
            "--class-file", str(ann / "something-something-v2-labels.json")], 3


def _diving48(real, root):
    ann = real / "annotations" / "diving48"
    for split, video in (("train", "test.mp4"), ("test", "test.avi")):
        for entry in json.loads((ann / f"Diving48_V2_{split}.json").read_text())[:2]:
            link(real / "videos" / video, os.path.join(root, entry["vid_name"] + ".mp4"))
    return ["--train-annotations", str(ann / "Diving48_V2_train.json"), "--val-annotations",
            str(ann / "Diving48_V2_test.json"), "--class-file", str(ann / "Diving48_vocab.json")], 2


def _epic(real, root):
    ann = real / "annotations" / "epic100"
    link(real / "videos" / "demo.mp4", os.path.join(root, "P01", "P01_11.MP4"))  # 280 frames
    csv = str(ann / "EPIC_100_validation.csv")
    # 2 of the 40 segments lie inside the 280 frames; the others cannot decode and are skipped
    return ["--train-annotations", csv, "--val-annotations", csv, "--source", "videos",
            "--class-file", str(ann / "EPIC_100_verb_classes.csv"), "--target", "verb"], 2


def _egtea(real, root):
    ann = real / "annotations" / "egtea"
    for split in ("train", "test"):
        for line in (ann / f"{split}_split1.txt").read_text().splitlines()[:2]:
            clip = line.split()[0]
            link(real / "videos" / "test.mp4", os.path.join(root, "-".join(clip.split("-")[:3]), clip + ".mp4"))
    return ["--train-annotations", str(ann / "train_split1.txt"), "--val-annotations", str(ann / "test_split1.txt"),
            "--class-file", str(ann / "action_idx.txt")], 2


CASES = {
    "train_something_v1": (_sthv1, 174),
    "train_something_v2": (_sthv2, 174),
    "train_diving48": (_diving48, 48),
    "train_epic_kitchens": (_epic, 97),
    "train_egtea": (_egtea, 106),
}
FULL_RUN = "train_egtea"  # the recipe that trains, evaluates and plots; the others are checked up to the model


@pytest.mark.parametrize("name", sorted(CASES))
def test_recipe_help_lists_the_settings(name):
    recipe = load_recipe(name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        recipe.main(["--help"])
    text = out.getvalue()
    for flag in ("--data-root", "--train-annotations", "--val-annotations", "--class-file", "--frames", "--batch-size",
                 "--epochs", "--model", "--alpha", "--beta", "--block", "--output-dir", "--resume", "--lr", "--weights"):
        assert flag in text, flag
    d = recipe.DEFAULTS
    # --help shows the recipe's values as the defaults (the script runs `keras-gst train --recipe FILE`)
    flat = " ".join(text.split())
    for shown in (f"frames per clip (default {d.num_frames})", f"(default {d.output_dir})",
                  f"annotation format (default {d.dataset})", f"(default gst_resnet{d.depth})"):
        assert shown in flat, shown
    assert (d.base_lr, d.momentum, d.clip_norm, d.dropout, d.weights, d.decay_epochs) == (0.01, 0.9, 20.0, 0.3, "imagenet", (50, 60))


@pytest.mark.parametrize("name", sorted(CASES))
def test_recipe_reads_its_dataset_and_builds_its_batches(name, real_data, tmp_path):
    """What differs per recipe, without training: the script's flags make the recipe (its DEFAULTS, the tiny
    flags), its reader reads the annotation files into the class count of the model, one training batch and
    the whole final-evaluation split (its recipe's views) come through `build_dataset` with `recipe.data`,
    the evaluation keeping only the clips whose files exist / decode. Training, evaluation and plots run
    once, in test_recipe_runs_end_to_end_on_real_annotation_files."""
    from keras_gst.cli import build_parser
    from keras_gst.commands.train import recipe_from_args
    from keras_gst.data import build_dataset
    from keras_gst.training.recipe import dataset_options, load_annotations, num_classes_of

    setup, num_classes = CASES[name]
    root = str(tmp_path / "data")
    args, readable_val = setup(real_data, root)
    flags = ["train", "--recipe", os.path.join(RECIPES, f"{name}.py"), *args, "--data-root", root, *TINY]
    parsed = build_parser().parse_args(flags)
    recipe = recipe_from_args(parsed, parsed.recipe)
    assert recipe.dataset == load_recipe(name).DEFAULTS.dataset and recipe.depth == 18
    train, val = load_annotations(recipe, "train"), load_annotations(recipe, "val")
    assert num_classes_of(recipe, train) == num_classes
    class_names = list(train.class_names or [])
    options = dataset_options(recipe, True, class_names, num_classes)
    x, y = next(iter(build_dataset(train, batch_size=1, **options)))
    assert tuple(x.shape) == (1, 4, 32, 32, 3) and 0 <= int(y[0]) < num_classes
    val_ds = build_dataset(val, batch_size=1, **dataset_options(recipe, False, class_names, num_classes))
    assert sum(int(x.shape[0]) for x, _ in val_ds) == readable_val


@pytest.mark.large
def test_recipe_runs_end_to_end_on_real_annotation_files(real_data, tmp_path):
    name = FULL_RUN
    setup, num_classes = CASES[name]
    root = str(tmp_path / "data")
    args, readable_val = setup(real_data, root)
    out = str(tmp_path / "out")
    recipe = load_recipe(name)
    assert recipe.main(args + ["--data-root", root, "--output-dir", out] + TINY) == 0
    import keras

    model = keras.models.load_model(os.path.join(out, "best.keras"))
    assert model.num_classes == num_classes and model.depth == 18
    # the model file for inference: no optimizer state in its weights archive (half the size)
    import zipfile

    import h5py

    with zipfile.ZipFile(os.path.join(out, "best.keras")) as archive, archive.open("model.weights.h5") as f:
        with h5py.File(f, "r") as weights:
            assert "optimizer" not in weights and "layers" in weights, list(weights)
    assert not os.path.exists(os.path.join(out, "final.keras")) and not os.path.exists(os.path.join(out, "checkpoints"))
    metrics = json.load(open(os.path.join(out, "eval", "metrics.json")))
    assert metrics["num_samples"] == readable_val  # only the clips whose files exist / decode
    for name_ in ("best.keras", "history.csv", "eval/confusion.png", "eval/per_class.csv", "plots/bn_gamma.png"):
        assert os.path.exists(os.path.join(out, name_)), name_
    saved = json.load(open(os.path.join(out, "recipe.json")))
    assert saved["dataset"] == recipe.DEFAULTS.dataset and saved["depth"] == 18


def _validation_accuracy(out, block, frames, size):
    """Top-1 and per-pair accuracy of OUT/BLOCK/best.keras on the demo's validation list, in NumPy (the
    reference for the numbers the demo reports). Pair p holds classes 2p and 2p + 1."""
    import keras
    import numpy as np

    from keras_gst.data import DataSpec, build_dataset, read_list_file

    data = out / "data"
    val = read_list_file(str(data / "val.txt"), str(data), class_names=str(data / "classes.txt"))
    video_size = int(round(size * 1.25 / 2) * 2)
    model = keras.saving.load_model(out / block / "best.keras")
    logits, labels = [], []
    for x, y in build_dataset(val, DataSpec(num_frames=frames, scale_size=video_size, crop_size=size), training=False, batch_size=4):
        logits.append(np.asarray(model(x, training=False)))
        labels.append(np.asarray(y))
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    pairs = {}
    for p in range(logits.shape[1] // 2):
        mask = labels // 2 == p
        chosen = np.where(logits[mask, 2 * p] >= logits[mask, 2 * p + 1], 2 * p, 2 * p + 1)
        pairs[str(p)] = float(np.mean(chosen == labels[mask]))
    return float(np.mean(logits.argmax(1) == labels)), pairs


def _check_demo_outputs(out, block, frames, size):
    """OUT/BLOCK of a demo run: results.json's numbers recomputed from best.keras (NumPy), the run's files, one
    model file per run (the backup removed when the run completes), the Fig. 5 plot, TensorBoard logs. The
    recomputed top-1 and pair accuracies."""
    r = json.load(open(out / "results.json"))["results"][block]
    top1, pairs = _validation_accuracy(out, block, frames=frames, size=size)
    assert r["top1"] == pytest.approx(top1) and r["pairs"] == pytest.approx(pairs)
    for name in ("best.keras", "eval/confusion.png", "plots/bn_gamma.png"):
        assert (out / block / name).exists(), (block, name)
    assert sorted(p.name for p in (out / block).rglob("*.keras")) == ["best.keras"]
    assert not (out / block / "backup").exists()
    assert (out / f"fig5_{block}.png").exists()
    assert any((out / block / "tensorboard" / "train").iterdir())
    return top1, pairs


@pytest.mark.large
def test_synthetic_demo_reports_every_pair(tmp_path):
    """4 classes: the table names both time-reversed pairs. One block (GST) here: the C2D run's outputs are
    checked by the next test, which trains both."""
    demo = load_recipe("train_synthetic")
    out = tmp_path / "demo"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert demo.main(["--output-dir", str(out), "--classes", "4", "--videos-per-class", "2", "--epochs", "1",
                          "--frames", "4", "--batch-size", "4", "--steps-per-epoch", "1", "--blocks", "gst"]) == 0
    printed = text.getvalue()
    assert "left->right vs right->left" in printed and "growing vs shrinking" in printed
    assert set(json.load(open(out / "results.json"))["results"]) == {"gst"}
    _, pairs = _check_demo_outputs(out, "gst", frames=4, size=32)
    assert set(pairs) == {"0", "1"}


@pytest.mark.large
def test_gst_tells_time_reversed_clips_apart_and_c2d_cannot(tmp_path):
    """README's claim on the synthetic temporal task, on its first pair (left->right vs right->left: every
    frame equally likely under both): GST-ResNet-18 learns it, its per-frame C2D twin stays near chance.
    The demo's recipe and seed, 2 classes instead of 8 (a few minutes on 2 cores); accuracies recomputed in
    NumPy from the saved best models, and both runs' reported numbers and files checked."""
    demo = load_recipe("train_synthetic")
    out = tmp_path / "demo"
    with contextlib.redirect_stdout(io.StringIO()):
        assert demo.main(["--output-dir", str(out), "--classes", "2", "--videos-per-class", "32", "--epochs", "6"]) == 0
    assert set(json.load(open(out / "results.json"))["results"]) == {"gst", "c2d"}
    gst, _ = _check_demo_outputs(out, "gst", frames=8, size=32)
    c2d, _ = _check_demo_outputs(out, "c2d", frames=8, size=32)
    assert gst >= 0.85, (gst, c2d)
    assert c2d <= 0.7, (gst, c2d)  # 16 validation clips: chance is 0.5
    assert gst - c2d >= 0.3
