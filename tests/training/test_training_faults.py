"""Faults during training: a SIGKILL while the backup or a model file is being written, a torn backup file,
non-finite losses / metrics, a reused output folder. Tiny Dense models keep every case fast; the kills are
real SIGKILLs of a child process in the middle of the write (the file half written, as a kill leaves it)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# A child that trains a tiny model with the package's callbacks. KILL_AT="backup:N" / "best:N" makes the
# N-th (1-based) backup / best-model write stop half-way with a SIGKILL of the process: the bytes written
# so far stay on disk under whatever name the writer chose, as after a real kill.
CHILD = textwrap.dedent('''
    import json, os, signal, sys
    import numpy as np
    import keras
    from keras_gst.training import callbacks as C
    from keras_gst.training.commit import EpochCommit

    out, epochs, kill_at = sys.argv[1], int(sys.argv[2]), os.environ.get("KILL_AT", "")
    os.makedirs(out, exist_ok=True)
    counts = {"backup": 0, "best": 0}

    def killing(kind, save):
        def wrapper(self, filepath, *args, **kwargs):
            counts[kind] += 1
            if kill_at == f"{kind}:{counts[kind]}":
                save(self, filepath, *args, **kwargs)
                data = open(filepath, "rb").read()
                with open(filepath, "wb") as f:  # the first half of the bytes, then the kill
                    f.write(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return save(self, filepath, *args, **kwargs)
        return wrapper

    keras.Model.save_weights = killing("backup", keras.Model.save_weights)
    keras.Model.save = killing("best", keras.Model.save)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")])
    guard = C.StopOnNaN()
    history_csv = os.path.join(out, "history.csv")
    commit = EpochCommit(os.path.join(out, "backup"), os.path.join(out, "best.keras"), logs=[history_csv],
                         nan_guard=guard)
    log = keras.callbacks.CSVLogger(history_csv, append=True)
    history = model.fit(x, y, batch_size=16, epochs=epochs, validation_data=(x, y), verbose=0, shuffle=False,
                        initial_epoch=commit.restore(model), callbacks=[guard, log, commit])
    print("RESULT" + json.dumps({"epochs_run": len(history.history["loss"]),
                                 "iterations": int(model.optimizer.iterations.numpy()),
                                 "restored_from": commit.restored_from}))
''')


def _child(out, epochs, kill_at=""):
    env = dict(os.environ, KILL_AT=kill_at, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), str(epochs)], env=env, capture_output=True,
                          text=True, timeout=300)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            result = json.loads(line[len("RESULT"):])
    return proc, result


@pytest.mark.large
@pytest.mark.parametrize("kill_at", ["backup:3", "best:1"])
def test_sigkill_while_writing_then_the_same_command_finishes(tmp_path, kill_at):
    """Before: the backup was overwritten in place, so a kill during its write left a torn
    latest.weights.h5 and every rerun died in h5py ("file signature not found")."""
    out = tmp_path / "run"
    proc, _ = _child(out, 5, kill_at)
    assert proc.returncode == -9, proc.stderr[-2000:]  # really killed mid-write
    killed_epoch = int(kill_at.split(":")[1])
    proc, result = _child(out, 5)  # the same command again
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the backup of the epoch before the interrupted one (or the one being written, if complete) was loaded
    done_before = 5 - result["epochs_run"]
    assert killed_epoch - 2 <= done_before <= killed_epoch, (kill_at, result)
    assert result["iterations"] == 4 * 5  # the optimizer state came back: every step of 5 epochs, once
    import csv
    import keras

    with open(out / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(5))  # each epoch once

    best = keras.models.load_model(out / "best.keras")  # never a torn model file
    assert best.count_params() == 4 * 8 + 8 + 8 * 2 + 2
    leftovers = [p for p in os.listdir(out) + os.listdir(out / "backup") if p.startswith(".tmp-")]
    assert not leftovers  # the killed write's leftover is gone


@pytest.mark.large
def test_a_torn_backup_falls_back_to_the_previous_copy(tmp_path):
    out = tmp_path / "run"
    env_kill = "backup:4"  # stop after 3 complete epoch backups
    proc, _ = _child(out, 6, env_kill)
    assert proc.returncode == -9
    copies = sorted((out / "backup").glob("epoch_*.weights.h5"))
    assert [p.name for p in copies] == ["epoch_0002.weights.h5", "epoch_0003.weights.h5"]  # the kill: epoch 4
    with open(copies[-1], "r+b") as f:  # a torn newest copy (disk damage, an external copy cut short)
        f.truncate(os.path.getsize(copies[-1]) // 3)
    proc, result = _child(out, 6)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert result["restored_from"].endswith("epoch_0002.weights.h5")
    assert result["epochs_run"] == 4 and result["iterations"] == 4 * 6  # epoch 3 redone: one epoch lost
    assert "the backup of epoch 3 does not load" in proc.stderr


def _tiny_model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _callbacks(tmp_path, guard, keep=5):
    from keras_gst.training.commit import EpochCommit
    from keras_gst.training.trainer import EpochCheckpoint

    return [guard, EpochCheckpoint(str(tmp_path / "ckpt"), keep, nan_guard=guard),
            EpochCommit(str(tmp_path / "backup"), str(tmp_path / "best.keras"), nan_guard=guard)]


def _fit(model, x, y, epochs, callbacks, **kwargs):
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks,
                     initial_epoch=callbacks[-1].restore(model), **kwargs)


def test_a_nan_validation_loss_is_never_best_checkpoint_or_backup(tmp_path):
    """Before: StopOnNaN looked at the training loss only and EpochCheckpoint ignored a NaN val_loss, so an
    epoch whose validation diverged was saved as best, checkpoint and backup."""
    import keras

    from keras_gst.training import callbacks as C

    x = np.ones((8, 3), np.float32)
    y = np.zeros((8,), np.int32)
    model = _tiny_model()
    guard = C.StopOnNaN()
    _fit(model, x, y, 2, _callbacks(tmp_path, guard), validation_data=(x, y))
    good = [w.copy() for w in model.get_weights()]
    bad_val = x.copy()
    bad_val[0, 0] = np.nan  # the training data stays finite: only val_loss / val_top1 inputs are NaN
    history = _fit(model, x, y, 4, _callbacks(tmp_path, guard), validation_data=(bad_val, y))
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])  # epoch 3 ran, then stop
    assert not np.isfinite(history.history["val_loss"][0])
    assert "val_loss became nan at the end of epoch 3" in guard.message
    assert "the last epoch with finite values is epoch 2" in guard.message
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["epoch_001.keras", "epoch_002.keras"]
    assert open(tmp_path / "best.txt").read().split()[0] in ("1", "2")
    backups = sorted((tmp_path / "backup").glob("*.weights.h5"))
    assert backups[-1].name == "epoch_0002.weights.h5"  # kept for the resume, which starts after epoch 2
    restored = _tiny_model()
    restored.load_weights(str(backups[-1]))
    for a, b in zip(restored.get_weights(), good):
        np.testing.assert_allclose(a, b)
    # the resume starts from the last finite epoch
    history = _fit(_tiny_model(), x, y, 4, _callbacks(tmp_path, guard), validation_data=(x, y))
    assert len(history.history["loss"]) == 2 and guard.message is None
    assert keras.models.load_model(tmp_path / "best.keras") is not None


def test_a_nan_in_the_first_epoch_saves_nothing(tmp_path):
    from keras_gst.training import callbacks as C

    x = np.ones((8, 3), np.float32)
    x[0, 0] = np.nan
    guard = C.StopOnNaN()
    _fit(_tiny_model(), x, np.zeros((8,), np.int32), 3, _callbacks(tmp_path, guard, keep=1), shuffle=False)
    assert "epoch 1, batch 1" in guard.message and "no epoch ended with finite values" in guard.message
    assert not (tmp_path / "best.keras").exists() and not (tmp_path / "ckpt").exists()
    assert not list(tmp_path.glob("backup/*.weights.h5"))


def test_epoch_checkpoints_are_pruned_by_epoch_number(tmp_path):
    """Before: `sorted(glob)[:-keep]` sorted names as text, so past epoch 999 the newest checkpoint
    (epoch_1000.keras < epoch_999.keras) was the one deleted."""
    from keras_gst.training.trainer import EpochCheckpoint

    x = np.ones((8, 3), np.float32)
    y = np.zeros((8,), np.int32)
    model = _tiny_model()
    ckpt = EpochCheckpoint(str(tmp_path / "ckpt"), keep=2)
    model.fit(x, y, batch_size=8, epochs=1000, initial_epoch=997, verbose=0, callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["epoch_1000.keras", "epoch_999.keras"]


def test_a_fresh_run_in_a_reused_output_folder_starts_clean_and_writes_one_model_file(synthetic_data, tmp_path):
    """Before: a fresh run kept an earlier run's checkpoints/ (later epochs survived the pruning, the new
    epoch_001 was deleted) and best.keras; every run wrote best, final and checkpoint copies of the model
    with optimizer state."""
    import keras

    from keras_gst.training import Recipe, fit

    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    for name in ("checkpoints/epoch_005.keras", "checkpoints/epoch_006.keras", "best.keras", "best.txt"):
        (out / name).write_text("an earlier run")
    recipe = Recipe(dataset="list", train_annotations=synthetic_data["train"], val_annotations=synthetic_data["val"],
                    class_file=synthetic_data["classes"], num_frames=2, scale_size=36, crop_size=32, depth=18,
                    weights=None, epochs=1, batch_size=2, steps_per_epoch=1, decay_epochs=(), output_dir=str(out),
                    resume=True, strategy="default", keep_checkpoints=1, histograms=False, evaluate_at_end=False,
                    verbose=0)
    result = fit(recipe)
    assert sorted(os.listdir(out / "checkpoints")) == ["epoch_001.keras"]
    assert open(out / "best.txt").read().split()[0] == "1"  # the earlier run's best replaced by this run's
    assert keras.models.load_model(out / "checkpoints" / "epoch_001.keras").optimizer.iterations.numpy() == 1
    best = keras.models.load_model(result.paths["best"])
    # an inference model: saved without optimizer state, so it loads uncompiled
    assert getattr(best, "optimizer", None) is None and best.num_classes == 2
    assert not (out / "backup").exists() and not (out / "final.keras").exists()
    # the best model without optimizer state is about half the checkpoint with SGD momentum
    ratio = os.path.getsize(out / "best.keras") / os.path.getsize(out / "checkpoints" / "epoch_001.keras")
    assert 0.4 < ratio < 0.6


def test_unreadable_training_files_are_counted_once_and_never_calibrate_the_export(tmp_path, synthetic_data):
    """Before: `train --data` calibrated the int8 export on videos the training had skipped as
    unreadable, so a run that trained fine exited 2."""
    from keras_gst.data import read_list_file
    from keras_gst.training import Recipe, fit
    from keras_gst.training.finetune import _sample_paths

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video " * 50)
    train = read_list_file(synthetic_data["train"], class_names=synthetic_data["classes"])
    train.records.append(type(train.records[0])(str(broken), None, 1))
    recipe = Recipe(dataset="list", num_frames=2, scale_size=36, crop_size=32, depth=18, weights=None, epochs=2,
                    batch_size=2, decay_epochs=(), output_dir=str(tmp_path / "run"), strategy="default",
                    histograms=False, evaluate_at_end=False, verbose=0, seed=0)
    result = fit(recipe, train_records=train)
    assert result.skipped_files == [str(broken)] and result.skipped_items == 1  # 2 epochs, one file
    assert str(broken) in _sample_paths(train, 100, 0)
    assert str(broken) not in _sample_paths(train, 100, 0, exclude=result.skipped_files)
