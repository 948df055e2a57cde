"""`fit` / `keras-gst train` when something stops them: a second run into the same folder, SIGTERM / Ctrl-C,
a full disk, a fresh run into a finished run's folder. Tiny GST-ResNet-18 runs (2 frames, 32 px, one step
per epoch)."""

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from training_helpers import PYTHON


def _argv(data, out, epochs=3):
    return ["train", "--train-list", data["train"], "--val-list", data["val"], "--class-file", data["classes"],
            "--model", "gst_resnet18", "--weights", "none", "--frames", "2", "--scale-size", "36", "--crop-size", "32",
            "--batch-size", "2", "--steps-per-epoch", "1", "--epochs", str(epochs), "--lr-steps", "", "--no-eval",
            "--no-histograms", "--strategy", "default", "--output-dir", str(out), "--verbose", "0"]


def _main(argv):
    from keras_gst.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _epochs_logged(out):
    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_a_fresh_run_keeps_the_finished_runs_models_until_it_replaces_them(tmp_path):
    """Before: the same `train` again into a finished OUT (no backup: a fresh run) deleted model.keras and
    best.keras first, so a kill in its first epoch left nothing loadable."""
    from keras_gst.training.recipe import Recipe, output_paths
    from keras_gst.training.output import prepare_output_dir

    paths = output_paths(str(tmp_path))
    for name in ("best", "best_score", "model", "history"):
        with open(paths[name], "w") as f:
            f.write("the finished run's")
    os.makedirs(paths["checkpoints"])
    assert prepare_output_dir(Recipe(output_dir=str(tmp_path)), paths) is False  # fresh: nothing to resume
    for name in ("best", "best_score", "model"):
        assert open(paths[name]).read() == "the finished run's"
    assert not os.path.exists(paths["history"]) and not os.path.exists(paths["checkpoints"])


def test_a_second_run_into_the_same_folder_is_refused_at_once(synthetic_data, tmp_path):
    """Before: two `train` runs into one OUT overwrote each other's files."""
    from keras_gst.locks import FolderLockedError

    out = tmp_path / "run"
    holder = subprocess.Popen([PYTHON, "-c", textwrap.dedent('''
        import sys, time
        from keras_gst.locks import output_lock
        with output_lock(sys.argv[1]):
            print("locked", flush=True)
            time.sleep(60)
    '''), str(out), "keras-gst", "train"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.time()
        code, _, err = _main(_argv(synthetic_data, out))
        assert time.time() - start < 10  # before any data or model is built
        assert code == 2 and f"is in use by pid {holder.pid}" in err and "keras-gst train" in err
        assert "Traceback" not in err
        with pytest.raises(FolderLockedError):
            from keras_gst.training import Recipe, fit

            fit(Recipe(output_dir=str(out)))
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.large
def test_sigterm_prints_one_line_exits_143_and_the_same_command_resumes(synthetic_data, tmp_path, monkeypatch):
    """Before: a KeyboardInterrupt traceback (Ctrl-C), and SIGTERM killed the run without a word."""
    from keras_gst.training import callbacks as C

    out = tmp_path / "run"
    real = C.LearningRateLogger.on_epoch_begin

    def term_at_the_second_epoch(self, epoch, logs=None):
        real(self, epoch, logs)
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal arrives in the meantime

    with monkeypatch.context() as patch:
        patch.setattr(C.LearningRateLogger, "on_epoch_begin", term_at_the_second_epoch)
        code, _, err = _main(_argv(synthetic_data, out))
    assert code == 143
    assert err.strip() == "interrupted at epoch 2; the same command resumes"
    assert _epochs_logged(out) == [0] and not (out / ".keras-gst.lock").exists()
    code, stdout, err = _main(_argv(synthetic_data, out))
    assert code == 0, err
    assert _epochs_logged(out) == [0, 1, 2] and not (out / "backup").exists()


@pytest.mark.large
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE")
def test_a_full_disk_is_one_error_naming_the_folder_and_the_space(synthetic_data, tmp_path):
    """Before: an h5py traceback, then a segmentation fault. A file size limit (EFBIG, like ENOSPC for the
    writers) lets every small file through and stops the first backup of the 45 MB model."""
    out = tmp_path / "run"
    code = textwrap.dedent(f'''
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))
        from keras_gst.cli import main
        sys.exit(main({_argv(synthetic_data, out)!r}))
    ''')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    proc = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"cannot write to {out}" in proc.stderr and "An epoch writes about" in proc.stderr
    needed = int(proc.stderr.split("An epoch writes about ")[1].split(" MB")[0])
    # GST-ResNet-18: 8.4 M float32 weights (32 MB); the backup adds SGD momentum for the trainable ones
    assert 90 < needed < 105
    written = sorted(os.listdir(out))
    assert not [p for p in written if p.startswith(".tmp-")] and "best.keras" not in written
    assert not [p for p in os.listdir(out / "backup") if p.endswith(".h5")]  # no torn backup
