"""The CLI's bad-value matrix: every impossible value ends with an argparse-style message naming the flag
and exit status 2, before any model or data is built, with no traceback (before: 24 of 68 such calls
ended in a Python traceback, 8 were silently accepted)."""

import os

import numpy as np
import pytest

from keras_gst.cli import main

MISSING = "/nonexistent/keras-gst-test"

# (argv, text the message must contain)
MATRIX = [
    (["info", "--frames", "0"], "--frames"),
    (["info", "--size", "-5"], "--size"),
    (["info", "--alpha", "0"], "--alpha"),
    (["info", "--groups", "0"], "--groups"),
    (["info", "--alpha", "0.3"], "argument --alpha"),  # before: `info: error: alpha: ...` (the keyword)
    (["info", "--block", "c3d", "--groups", "3"], "argument --groups"),
    (["train", "--batch-size", "-1"], "--batch-size"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--frames", "0"], "--frames"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--crop-size", "0"], "--crop-size"),
    (["train", "--val-split", "1.5"], "--val-split"),
    (["train", "--val-split", "1"], "--val-split"),
    (["train", "--val-split", "-0.1"], "--val-split"),
    (["train", "--dropout", "1"], "--dropout"),
    (["train", "--keep-checkpoints", "-1"], "--keep-checkpoints"),
    (["train", "--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["train", "--val-crops", "2"], "--val-crops"),
    (["train", "--verbose", "7"], "--verbose"),
    (["train", "--lr-steps", "a,b"], "--lr-steps"),
    (["eval", "m.keras", "--batch-size", "-1"], "--batch-size"),
    (["eval", "m.keras", "--frames", "0"], "--frames"),
    (["eval", "m.keras", "--clips", "0"], "--clips"),
    (["eval", "m.keras"], "--annotations"),
    (["eval", "--epic-verb-scores", "v.npz"], "--epic-noun-scores"),
    (["analyze-bn", "gst_resnet18", "--bins", "0"], "--bins"),
    (["analyze-bn", "gst_resnet18", "--columns", "0"], "--columns"),
    (["explain", "v.mp4", "--model", "m.keras", "--top-k", "0"], "--top-k"),
    (["explain", "v.mp4", "--model", "m.keras", "--frames", "-1"], "--frames"),
    (["predict", "v.mp4", "--model", "m.keras", "--frames", "0"], "--frames"),
    (["predict", "v.mp4", "--model", "m.keras", "--topk", "0"], "--topk"),
    (["predict", "v.mp4", "--model", "m.keras", "--threads", "0"], "--threads"),
    (["export", "--format", "tflite", "--model", "m.keras", "--out", "o.tflite", "--size", "0"], "--size"),
    (["export", "--format", "tflite", "--model", "m.keras", "--out", "o.tflite", "--frames", "1000"], "--frames"),
    (["export", "--format", "tflite", "--model", "m.keras", "--out", "o.tflite", "--size", "2048"], "--size"),
    (["export", "--format", "tflite", "--model", "m.keras", "--out", "o.tflite", "--calibration-clips", "0"],
     "--calibration-clips"),
    (["convert-torch", "x.pth", "--num-frames", "0"], "--num-frames"),
    (["convert-torch", "x.pth", "--size", "-5"], "--size"),  # before: a preset with image_size [-5, -5]
    (["convert-torch", "x.pth", "--size", "100000"], "--size"),
    (["extract-frames", "in", "out", "--short-side", "-1"], "--short-side"),
    (["extract-frames", "in", "out", "--quality", "101"], "--quality"),
    (["extract-frames", "in", "out", "--timeout", "0"], "--timeout"),
    (["extract-frames", "in", "out", "--workers", "-2"], "--workers"),
    (["extract-frames", MISSING, "out"], "does not exist"),
]


def _call(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse
        return e.code


@pytest.mark.parametrize("argv, named", MATRIX, ids=[" ".join(a) for a, _ in MATRIX])
def test_bad_values_exit_2_with_a_message_naming_the_flag(argv, named, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _call(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and named in err and "Traceback" not in err


def test_extract_frames_template_without_a_field_exits_2(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    code = _call(["extract-frames", str(tmp_path / "in"), str(tmp_path / "out"), "--template", "frame.jpg"])
    err = capsys.readouterr().err
    assert code == 2 and "template 'frame.jpg'" in err and not (tmp_path / "out").exists()


def test_train_into_an_unwritable_output_dir_exits_2_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    code = _call(["train", "--output-dir", str(blocker / "run"), "--train-list", MISSING])
    err = capsys.readouterr().err
    assert code == 2 and "--output-dir" in err and str(blocker / "run") in err and "Traceback" not in err


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    import keras

    from keras_gst import GSTResNet18

    root = tmp_path_factory.mktemp("models")
    model = GSTResNet18(3, weights=None, num_frames=2, input_shape=(32, 32, 3))
    model.save(root / "ok.keras")
    # weights of a run that diverged (what the NaN guard now refuses to save)
    model.set_weights([np.full_like(w, np.nan) if w.ndim > 1 else w for w in model.get_weights()])
    model.save(root / "nan.keras")
    video = root / "clip.mp4"
    from keras_gst.data.synthetic import write_video

    write_video(str(video), np.full((4, 40, 40, 3), 100, np.uint8))
    assert keras.models.load_model(root / "ok.keras").num_classes == 3
    return root


def test_predict_and_eval_refuse_to_report_nan(tiny_models, capsys, tmp_path):
    """Before: predict printed `nan%` and exited 0."""
    code = _call(["predict", str(tiny_models / "clip.mp4"), "--model", str(tiny_models / "nan.keras")])
    err = capsys.readouterr().err
    assert code == 2 and "NaN or infinite scores" in err and "nan.keras" in err
    listing = tmp_path / "val.txt"
    listing.write_text(f"{tiny_models / 'clip.mp4'} 1\n")
    code = _call(["eval", str(tiny_models / "nan.keras"), "--annotations", str(listing), "--scale-size", "32"])
    err = capsys.readouterr().err
    assert code == 2 and "NaN or infinite scores for 1 of 1 clips" in err
    code = _call(["predict", str(tiny_models / "clip.mp4"), "--model", str(tiny_models / "ok.keras")])
    assert code == 0 and "nan" not in capsys.readouterr().out


def test_predict_names_its_own_flag_and_explain_checks_the_class_file(tiny_models, capsys, tmp_path):
    code = _call(["predict", str(tiny_models / "clip.mp4"), "--model", str(tiny_models / "ok.keras"), "--frames", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "argument --frames: the model file fixes num_frames=2; 8 conflicts" in err, err
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")  # the model has 3 classes
    code = _call(["explain", str(tiny_models / "clip.mp4"), "--model", str(tiny_models / "ok.keras"),
                  "--class-file", str(names), "--output", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "has 2 class names, the model has 3 classes" in err and not os.path.exists(tmp_path / "x.png")


def test_val_split_zero_turns_the_split_off(tmp_path):
    """`--val-split 0` is a valid value (no validation split), unlike 1 or a negative share."""
    from keras_gst.cli import build_parser
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.training.finetune import finetune_records
    from keras_gst.training.recipe import Recipe

    args = build_parser().parse_args(["train", "--data", str(tmp_path), "--val-split", "0"])
    assert args.val_split == 0.0
    root = tmp_path / "folders"
    write_synthetic_dataset(tmp_path / "syn", num_videos_per_class=2, frames=4, size=32, seed=0, num_classes=2)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
    videos = sorted((tmp_path / "syn").rglob("*.mp4"))
    for i, video in enumerate(videos):
        os.link(video, root / ("a", "b")[i % 2] / video.name)
    train, val = finetune_records(Recipe(), str(root), args.val_split)
    assert val is None and len(train.records) == len(videos)
    train, val = finetune_records(Recipe(), str(root), 0.5)
    assert len(val.records) + len(train.records) == len(videos) and len(val.records) > 0


def test_an_empty_output_path_is_refused_naming_the_flag(tmp_path, capsys, monkeypatch):
    """Before: `export --out ''` exported, then failed to rename the SavedModel onto '' (`error: [Errno 2]`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.keras").write_bytes(b"never loaded")
    assert _call(["export", "--format", "savedmodel", "--model", "m.keras", "--out", "", "--no-parity"]) == 2
    err = capsys.readouterr().err
    assert "argument --out: is empty" in err and "Traceback" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_explain_on_an_unreadable_video_names_the_decoder_error(tiny_models, capsys, tmp_path):
    """Before: `argument VIDEO: X: cannot read it: {{function_node __wrapped__IteratorGetNext...}} Error in
    user-defined function ...` (tf.data's wrapper text, not the reason)."""
    video = tmp_path / "garbage.mp4"
    video.write_bytes(b"garbage" * 300)
    code = _call(["explain", str(video), "--model", str(tiny_models / "ok.keras"), "--output", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and f"{video}: cannot read it: VideoDecodeError: cannot decode any frame" in err, err
    assert "function_node" not in err and "Traceback" not in err and not (tmp_path / "x.png").exists()


def test_predict_on_an_unreadable_video_names_it_once_with_the_decoder_reason(tiny_models, capsys, tmp_path):
    """Before: `argument VIDEO: X: cannot read it: cannot read X: cannot decode any frame of video X; ...`."""
    video = tmp_path / "garbage.mp4"
    video.write_bytes(b"garbage" * 300)
    code = _call(["predict", str(video), "--model", str(tiny_models / "ok.keras")])
    err = capsys.readouterr().err
    assert code == 2 and f"argument VIDEO: {video}: cannot read it: cannot decode any frame of video" in err, err
    assert err.count(str(video)) == 2 and "Traceback" not in err, err  # the error's prefix and the decoder's text
