"""Resume: a training run killed mid-way continues from its last completed epoch (BackupAndRestore,
optimizer state included), losing at most the epoch in progress; NaN loss stops with a clear error."""

import csv
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from training_helpers import PYTHON


def _train_command(data, out, epochs):
    return [PYTHON, "-m", "keras_gst.cli", "train", "--train-list", data["train"], "--val-list", data["val"],
            "--class-file", data["classes"], "--model", "gst_resnet18", "--weights", "none", "--frames", "2",
            "--scale-size", "36", "--crop-size", "32", "--batch-size", "2", "--steps-per-epoch", "2",
            "--epochs", str(epochs), "--lr-steps", "", "--no-eval", "--no-histograms", "--strategy", "default",
            "--output-dir", out, "--verbose", "0", "--keep-checkpoints", "1"]


def _epochs_logged(out):
    path = os.path.join(out, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.mark.large
@pytest.mark.timeout(600)
def test_killed_run_resumes_from_the_last_epoch(synthetic_data, tmp_path):
    out = str(tmp_path / "run")
    epochs = 12
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    proc = subprocess.Popen(_train_command(synthetic_data, out, epochs), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    try:
        while len(_epochs_logged(out)) < 2:
            assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read()[-3000:]}"
            assert time.time() < deadline, "no epoch finished within 300 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    before = _epochs_logged(out)
    assert before == list(range(len(before))) and len(before) < epochs
    assert any(f.endswith(".weights.h5") for f in os.listdir(os.path.join(out, "backup")))

    done = subprocess.run(_train_command(synthetic_data, out, epochs), env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _epochs_logged(out)[len(before):]
    # the resumed run starts at the first epoch not yet saved: nothing done twice, at most one lost
    assert after[0] in (len(before), len(before) + 1), (before, after)
    assert after == list(range(after[0], epochs))
    import keras

    import keras_gst

    keras_gst.register()  # Keras' own loader needs the classes registered (this file alone registers none)
    model = keras.models.load_model(os.path.join(out, "checkpoints", f"epoch_{epochs:03d}.keras"))
    # the optimizer's step counter came back with the weights: all epochs' steps, counted once
    assert int(model.optimizer.iterations.numpy()) == 2 * (epochs - (after[0] - len(before)))
    assert not os.path.exists(os.path.join(out, "backup"))


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_backup(tmp_path):
    import keras

    from keras_gst.training.callbacks import StopOnNaN
    from keras_gst.training.commit import EpochCommit

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.ones((8, 3), np.float32)
    y = np.zeros((8,), np.int32)
    guard = StopOnNaN()
    backup_dir = tmp_path / "backup"

    def fit(data, epochs):
        commit = EpochCommit(str(backup_dir), nan_guard=guard)
        return model.fit(data, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False,
                         initial_epoch=commit.restore(model), callbacks=[guard, commit])

    fit(x, 2)
    assert guard.message is None
    good = model.get_weights()
    bad = x.copy()
    bad[5, 0] = np.nan  # second batch
    history = fit(bad, 5)
    # resumed after the 2 backed-up epochs, stopped at the first NaN batch of epoch 3
    assert guard.message is not None and "epoch 3, batch 2" in guard.message and "lr" in guard.message
    assert len(history.history["loss"]) == 1
    # the backup is the one of the last good epoch, not the NaN weights, and was kept for a resume
    restored = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    restored.compile(optimizer="sgd", loss="mse")
    (newest,) = sorted(backup_dir.glob("epoch_*.weights.h5"))[-1:]
    assert newest.name == "epoch_0002.weights.h5"
    restored.load_weights(str(newest))
    for a, b in zip(restored.get_weights(), good):
        np.testing.assert_allclose(a, b)
