"""`keras-gst train --data DIR`'s outputs and refusals: OUT/model.keras is a copy of best.keras (never a link
that a later write of best.keras changes), a second train into a busy OUT is one clean line, and a validation
split whose clips are all unreadable is an error naming the files."""

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from cli_helpers import run_cli
from keras_gst.data.synthetic import make_clip, write_video

TINY = ("--model", "gst_resnet18", "--weights", "none", "--frames", 4, "--size", 32, "--epochs", 1, "--export", "none")


def _videos(folder, label, count):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(label)
    for i in range(count):
        write_video(str(folder / f"clip{i}.mp4"), make_clip(label, rng, frames=8, size=48))


def test_model_keras_is_a_copy_of_best_keras_and_loads(tmp_path):
    import keras

    from keras_gst.applications import build_classifier
    from keras_gst.training.finetune import finish_run

    best = tmp_path / "best.keras"
    model = build_classifier(18, 2, num_frames=4, input_shape=(32, 32, 3))
    model.save(best)
    result = types.SimpleNamespace(paths={"best": str(best)}, class_names=["a", "b"], num_classes=2)
    outputs = finish_run(result, str(tmp_path))
    copy = tmp_path / "model.keras"
    assert outputs["model"] == str(copy) and not copy.is_symlink()
    assert os.stat(copy).st_ino != os.stat(best).st_ino and copy.read_bytes() == best.read_bytes()
    assert (tmp_path / "labels.txt").read_text().splitlines() == ["a", "b"]
    before = copy.read_bytes()
    with open(best, "r+b") as f:  # a later run rewrites best.keras in place
        f.truncate(10)
    assert copy.read_bytes() == before
    loaded = keras.saving.load_model(copy)
    clip = np.random.default_rng(0).standard_normal((1, 4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(clip, verbose=0), model.predict(clip, verbose=0), atol=1e-5)


HOLDER = textwrap.dedent('''
    import sys, time
    from keras_gst.locks import output_lock
    with output_lock(sys.argv[1], command="keras-gst train --out busy"):
        print("locked", flush=True)
        time.sleep(60)
''')


def test_a_second_train_into_a_busy_out_is_one_line(tmp_path):
    """Before: `keras-gst train: error: FolderLockedError: ...` (the class name in the message)."""
    _videos(tmp_path / "data" / "a", 0, 2)
    _videos(tmp_path / "data" / "b", 1, 2)
    out = tmp_path / "out"
    # another process: the lock nests within one process (train, then its export step)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli("train", "--data", tmp_path / "data", "--out", out, *TINY)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2, err
    assert err.startswith(f"keras-gst train: error: {out} is in use by pid {holder.pid} (`keras-gst train --out busy`")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "FolderLockedError" not in err


def test_validation_clips_that_are_all_unreadable_name_the_files(tmp_path):
    """Keras' validation pass finds no batch (StopIteration): an error naming the files, no traceback. (With
    `--data DIR --val-split`, the split is stratified: a class of readable videos always gives validation a
    readable clip, so lists make the all-unreadable validation set.)"""
    _videos(tmp_path / "a", 0, 2)
    (tmp_path / "b").mkdir()
    for name in ("x.mp4", "y.mp4"):
        (tmp_path / "b" / name).write_bytes(b"")
    (tmp_path / "train.txt").write_text("a/clip0.mp4 0\na/clip1.mp4 1\n")
    (tmp_path / "val.txt").write_text("b/x.mp4 0\nb/y.mp4 1\n")
    code, _, err = run_cli("train", "--train-list", tmp_path / "train.txt", "--val-list", tmp_path / "val.txt",
                        "--out", tmp_path / "out", "--batch-size", 2, *TINY)
    assert code == 2, err
    error = [line for line in err.splitlines() if line.startswith("keras-gst train: error: ")]
    assert len(error) == 1 and "Traceback" not in err, err
    assert "no validation clip could be read (2 unreadable file(s): " in error[0], err
    assert str(tmp_path / "b" / "x.mp4") in error[0] and str(tmp_path / "b" / "y.mp4") in error[0], err
