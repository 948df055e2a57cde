"""One epoch's state is one commit (`EpochCommit`): a run stopped at any instant of an epoch end resumes to
the same best model, best score, history and TensorBoard steps as a run never stopped (the reference: the
same seeded training without a stop). Tiny Dense models, in process; a "kill" is an exception raised right
after a given write completed (the files stay as that write left them)."""

import csv
import glob
import os

import numpy as np
import pytest

EPOCHS = 6


class Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` handler sees it."""


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, 0] + 0.8 * rng.normal(size=48) > 0).astype("int32")
    vx = rng.normal(size=(32, 4)).astype("float32")
    vy = (vx[:, 0] + 0.8 * rng.normal(size=32) > 0).astype("int32")
    return x, y, vx, vy


def _run(out, epochs=EPOCHS, tensorboard=True, patience=None):
    """Train (or resume) the tiny model into `out` like `fit` does (with `patience`: early stopping on
    val_top1); returns (history, commit)."""
    import keras

    from keras_gst.training import callbacks as C
    from keras_gst.training.commit import EpochCommit

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")])
    guard = C.StopOnNaN()
    logs = [str(out / "history.csv")] + ([str(out / "tb")] if tensorboard else [])
    stateful = [keras.callbacks.EarlyStopping("val_top1", mode="max", patience=patience)] if patience else []
    commit = EpochCommit(str(out / "backup"), str(out / "best.keras"), logs=logs, nan_guard=guard, callbacks=stateful)
    callbacks = [guard, keras.callbacks.CSVLogger(str(out / "history.csv"), append=True)] + stateful
    if tensorboard:
        callbacks.append(C.TensorBoard(str(out / "tb"), write_graph=False))
    x, y, vx, vy = _data()
    initial = commit.restore(model)
    epochs = initial if commit.stopped else epochs  # as `fit`: a run stopped early has nothing left to train
    history = model.fit(x, y, batch_size=16, epochs=epochs, initial_epoch=initial, validation_data=(vx, vy),
                        shuffle=False, verbose=0, callbacks=callbacks + [commit])
    return history, commit


def _history(out):
    with open(out / "history.csv") as f:
        return [(int(r["epoch"]), float(r["val_top1"]), float(r["loss"])) for r in csv.DictReader(f)]


def _tensorboard_steps(out):
    import tensorflow as tf

    steps = []
    for path in glob.glob(str(out / "tb" / "train" / "*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            steps += [event.step for v in event.summary.value if v.tag == "epoch_loss"]
    return sorted(steps)


def _predictions(path):
    import keras

    return keras.models.load_model(path).predict(_data()[0], verbose=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run never stopped: its history, best score and best model's predictions."""
    out = tmp_path_factory.mktemp("reference")
    _run(out)
    history = _history(out)
    scores = [h[1] for h in history]
    assert len(set(scores)) > 2 and scores.index(max(scores)) < EPOCHS - 1  # the best is not simply the last
    return {"history": history, "best": open(out / "best.txt").read(), "predictions": _predictions(out / "best.keras"),
            "steps": _tensorboard_steps(out)}


def _kill_after(monkeypatch, owner, name, when):
    """Make `owner.name` raise Killed right after its call number `when` (1-based) completed."""
    real = getattr(owner, name)
    calls = []

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == when:
            raise Killed(name)
        return result

    monkeypatch.setattr(owner, name, wrapper)


def _the_epoch_ends(monkeypatch):
    import keras

    from keras_gst.training import callbacks as C
    from keras_gst.training import commit

    return {
        # the epoch's backup renamed into place (before: the resume kept no row of that epoch and, without a
        # best score, saved a worse epoch as best)
        "backup": lambda: _kill_after(monkeypatch, commit, "save_weights", 3),
        # the new best model written (its second save)
        "best model": lambda: _kill_after(monkeypatch, C, "save_model", 2),
        # the commit written, best.keras not yet renamed into place
        "commit": lambda: _kill_after(monkeypatch, commit.EpochCommit, "_write_state", 4),
        # everything written but the pruning of older copies
        "promote": lambda: _kill_after(monkeypatch, commit.EpochCommit, "_promote", 3),
        # the history row written (CSVLogger), nothing of the commit
        "history row": lambda: _kill_after(monkeypatch, keras.callbacks.CSVLogger, "on_epoch_end", 3),
    }


@pytest.mark.parametrize("where", ["backup", "best model", "commit", "promote", "history row"])
def test_a_kill_at_any_point_of_an_epoch_end_resumes_to_the_same_run(tmp_path, monkeypatch, reference, where):
    with monkeypatch.context() as patch:
        _the_epoch_ends(patch)[where]()
        with pytest.raises(Killed):
            _run(tmp_path)
    _run(tmp_path)  # the same command again
    history = _history(tmp_path)
    assert [h[0] for h in history] == list(range(EPOCHS))  # every epoch once
    np.testing.assert_allclose([h[1:] for h in history], [h[1:] for h in reference["history"]], rtol=1e-5)
    assert open(tmp_path / "best.txt").read() == reference["best"]
    np.testing.assert_allclose(_predictions(tmp_path / "best.keras"), reference["predictions"], rtol=1e-5, atol=1e-6)
    assert _tensorboard_steps(tmp_path) == reference["steps"] == list(range(EPOCHS))
    backup = sorted(os.listdir(tmp_path / "backup"))
    assert backup == ["epoch_0005.weights.h5", "epoch_0006.weights.h5", "state.json"]  # nothing staged left over


def test_a_damaged_newest_backup_falls_back_without_duplicate_history_rows(tmp_path, reference):
    """Before: after a fallback to the previous backup, history.csv kept the lost epoch's row (0,1,1,2)."""
    _run(tmp_path, epochs=3)
    newest = tmp_path / "backup" / "epoch_0003.weights.h5"
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 3)
    with pytest.warns(UserWarning, match="the backup of epoch 3 does not load.*resuming from epoch 2"):
        _, commit = _run(tmp_path)
    assert commit.restored_from.endswith("epoch_0002.weights.h5")
    assert [h[0] for h in _history(tmp_path)] == list(range(EPOCHS))
    assert _tensorboard_steps(tmp_path) == list(range(EPOCHS))


def test_no_loadable_backup_starts_over_with_a_warning(tmp_path, reference):
    """Before: "no backup ... loads; delete the folder or run with --no-resume" (an error)."""
    _run(tmp_path, epochs=2)
    for path in (tmp_path / "backup").glob("epoch_*.weights.h5"):
        path.write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="starting over from epoch 1; the 2 epoch.s. trained before are lost"):
        _run(tmp_path)
    history = _history(tmp_path)
    assert [h[0] for h in history] == list(range(EPOCHS))
    np.testing.assert_allclose([h[1:] for h in history], [h[1:] for h in reference["history"]], rtol=1e-5)
    assert open(tmp_path / "best.txt").read() == reference["best"]


def test_a_damaged_best_model_is_replaced_not_kept(tmp_path):
    """Before: best.keras torn after epoch 2, no later improvement: the run ended with the torn file as its
    best model (and model.keras linked to it) and deleted the backup."""
    from keras_gst.training.commit import is_complete_keras_file

    _run(tmp_path, epochs=2, tensorboard=False)
    best = tmp_path / "best.keras"
    with open(best, "r+b") as f:
        f.truncate(os.path.getsize(best) // 2)
    with pytest.warns(UserWarning, match="best.keras .epoch [12], score .* is damaged or missing"):
        _, commit = _run(tmp_path, epochs=3, tensorboard=False)
    assert commit.best_epoch == 3 and is_complete_keras_file(best)
    assert open(tmp_path / "best.txt").read().split()[0] == "3"


def test_a_full_disk_stops_before_writing_and_names_the_space(tmp_path, monkeypatch):
    """Before: the backup write ran into the full disk in the middle of an HDF5 file (an h5py traceback, then
    a segmentation fault)."""
    import errno

    _run(tmp_path, epochs=1, tensorboard=False)
    state = (tmp_path / "backup" / "state.json").read_text()
    real = os.statvfs
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 10, 1, 1, 10, 1, 1, 0, 255))
                        if "backup" in str(path) else real(path))
    with pytest.raises(OSError) as e:
        _run(tmp_path, epochs=2, tensorboard=False)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "backup")
    assert "0 MB free" in str(e.value) and " MB needed" in str(e.value)
    assert (tmp_path / "backup" / "state.json").read_text() == state  # epoch 1 stays the commit
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch_0001.weights.h5", "state.json"]


PATIENCE, MAX_EPOCHS = 4, 12


@pytest.fixture(scope="module")
def early_reference(tmp_path_factory):
    """The run with early stopping never killed: val_top1 peaks at epoch 5, so it stops after epoch 9."""
    out = tmp_path_factory.mktemp("early")
    _run(out, epochs=MAX_EPOCHS, tensorboard=False, patience=PATIENCE)
    history = _history(out)
    assert 5 < len(history) < MAX_EPOCHS
    return history, open(out / "best.txt").read()


@pytest.mark.parametrize("where", ["history row of epoch 7", "commit of epoch 7", "commit of epoch 9 (the stop)"])
def test_a_killed_run_with_early_stopping_resumes_to_the_same_stop(tmp_path, monkeypatch, early_reference, where):
    """Before: EarlyStopping's wait counter and best score were not committed: killed after epoch 7 (wait 2),
    the resumed run counted its patience from scratch and trained 11 epochs instead of 9; killed after the
    commit of the stopping epoch, it trained on."""
    import keras

    from keras_gst.training import commit

    with monkeypatch.context() as patch:
        if where.startswith("history"):
            _kill_after(patch, keras.callbacks.CSVLogger, "on_epoch_end", 7)
        else:  # `_write_state` call 1 commits the start (epoch 0), call k + 1 epoch k
            _kill_after(patch, commit.EpochCommit, "_write_state", 1 + int(where.split()[3]))
        with pytest.raises(Killed):
            _run(tmp_path, epochs=MAX_EPOCHS, tensorboard=False, patience=PATIENCE)
    _, resumed = _run(tmp_path, epochs=MAX_EPOCHS, tensorboard=False, patience=PATIENCE)
    history, best = early_reference
    assert [h[0] for h in _history(tmp_path)] == [h[0] for h in history]  # stopped after the same epoch
    np.testing.assert_allclose([h[1:] for h in _history(tmp_path)], [h[1:] for h in history], rtol=1e-5)
    assert open(tmp_path / "best.txt").read() == best
    assert resumed.stopped
