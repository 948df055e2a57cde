"""`EpochCommit`: each epoch's training state is committed as one unit, so a run killed at any instant
resumes to the same state: the same best model, best score and a history without duplicate rows.

At each epoch end (the callback runs after the CSV log and TensorBoard ones), in this order:

1. `backup/epoch_NNNN.weights.h5`: weights and optimizer state (atomic write);
2. if the monitored metric improved: the model without optimizer state to `backup/best_NNNN.keras`;
3. `backup/state.json` (atomic, the commit point): the epoch, its weights file, the best epoch and score,
   the pending best file, the sizes of the append-only logs (history.csv, TensorBoard event files,
   flushed before), the counters of the callbacks with state (`CALLBACK_STATE`: EarlyStopping's wait and
   best) and whether one stopped the run; plus the previous commit and the sizes at the start of the run;
4. the pending best model is renamed to `best.keras` (and `best.txt` written), older copies removed.

`restore(model)` (before training) reads the newest commit: it completes step 4 if a kill came before it,
loads the weights (the previous commit's if those do not load: one more epoch redone), truncates the logs
to the sizes of the commit it resumes from and removes newer log files (no duplicate rows or TensorBoard
steps), and takes the best score from the commit; the callbacks' counters are set back at the start of
training (after their own `on_train_begin` reset), and `stopped` says the committed run had stopped early
(nothing left to train). Anything written after the last commit is rolled back.
When no backup loads, the run starts over with a warning that says what was lost. A NaN epoch
(`StopOnNaN`) is never committed.
"""

import contextlib
import json
import math
import os
import re
import warnings
import zipfile

import keras
import numpy as np

from keras_gst import atomic


STATE = "state.json"
WEIGHTS = re.compile(r"^epoch_(\d+)\.weights\.h5$")
STAGED_BEST = re.compile(r"^best_(\d+)\.keras$")
# callbacks whose state is part of each commit: class -> the attributes that carry from one epoch to the next
CALLBACK_STATE = {keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch")}


def _json_number(value):
    return None if value is None else (int(value) if isinstance(value, (int, np.integer)) else float(value))


def callback_state(callback):
    """The committed attributes (`CALLBACK_STATE`) of `callback`, as JSON numbers."""
    return {name: _json_number(getattr(callback, name, None)) for name in _state_names(callback)}


def _state_names(callback):
    for cls, names in CALLBACK_STATE.items():
        if isinstance(callback, cls):
            if getattr(callback, "restore_best_weights", False):
                raise ValueError(f"{type(callback).__name__}(restore_best_weights=True): its best weights are not "
                                 "committed; best.keras holds the best model")
            return names
    raise ValueError(f"{type(callback).__name__} has no committed state (EpochCommit commits "
                     f"{', '.join(c.__name__ for c in CALLBACK_STATE)})")


def log_sizes(paths):
    """{path: size} of every file at `paths` (files, or folders walked), as committed."""
    sizes = {}
    for path in paths:
        if os.path.isfile(path):
            sizes[path] = os.path.getsize(path)
        for folder, _, files in os.walk(path):
            for name in files:
                sizes[os.path.join(folder, name)] = os.path.getsize(os.path.join(folder, name))
    return sizes


def roll_back_logs(paths, sizes):
    """Truncate the files at `paths` to their committed `sizes`; remove those not committed."""
    for path in log_sizes(paths):
        if path not in sizes:
            os.remove(path)
        elif os.path.getsize(path) > sizes[path]:
            os.truncate(path, sizes[path])


def variable_bytes(variables):
    return sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)


def epoch_write_bytes(model):
    """(backup, best model) bytes an epoch writes: weights with / without optimizer state (+ 1 MB of
    file structure each)."""
    weights = variable_bytes(model.weights) + 2**20
    optimizer = variable_bytes(model.optimizer.variables) if model.optimizer is not None else 0
    return weights + optimizer, weights


def save_weights(model, path):
    """`model.save_weights(path)` written atomically. On a write error (a full disk in the middle of the
    file) the HDF5 file Keras leaves open is closed before the error goes on: left to the garbage collector,
    h5py prints tracebacks and the process crashes at exit (SIGSEGV)."""
    with atomic.atomic_path(path) as tmp:
        try:
            model.save_weights(tmp)
        except OSError:
            import h5py

            for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
                if os.path.abspath(fid.name.decode()) == os.path.abspath(tmp):
                    with contextlib.suppress(Exception):  # its flush fails again (the disk is still full)
                        h5py.File(fid).close()
            raise


def is_complete_keras_file(path):
    """Whether `path` is a complete `.keras` archive (every member's CRC checks)."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


class EpochCommit(keras.callbacks.Callback):
    """Commits each epoch's backup, best model, best score and log sizes as one unit (module docstring).

    backup_dir: the commit's files (removed by the trainer after a complete run). best_path: where the best
    model goes (`best.keras`; None: no best model, e.g. a non-chief worker). monitor: the metric to
    maximise (`val_top1`, else the same name without `val_`). logs: append-only files / folders
    (history.csv, tensorboard/) rolled back on resume. nan_guard: a `StopOnNaN`; a flagged epoch is not
    committed. callbacks: callbacks with state (`CALLBACK_STATE`, e.g. `EarlyStopping`), placed before this
    one: their counters are committed with each epoch and set back on resume; `stopped` is True when the
    last commit's epoch stopped the run (after `restore`: fit nothing more). Two weight copies are kept: the newest and the previous (a fallback if the newest is damaged).
    """

    def __init__(self, backup_dir, best_path=None, monitor="val_top1", logs=(), nan_guard=None, callbacks=()):
        super().__init__()
        self.backup_dir = backup_dir
        self.best_path = best_path
        self.monitor = monitor
        self.logs = list(logs)
        self.nan_guard = nan_guard
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            _state_names(callback)  # a callback whose state cannot be committed is refused now
        self.state = None
        self.best, self.best_epoch = -float("inf"), None
        self.restored_from = None  # the weights file a resume loaded
        self.epoch = 0  # epochs committed (the run stands there if stopped now)
        self.stopped = False  # the committed run was stopped by a callback (e.g. early stopping)

    @property
    def state_path(self):
        return os.path.join(self.backup_dir, STATE)

    def _path(self, name):
        return os.path.join(self.backup_dir, name)

    def _read_state(self):
        try:
            with open(self.state_path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            warnings.warn(f"{self.state_path} does not read ({e}); starting over", UserWarning, stacklevel=3)
            return None

    def _write_state(self, state):
        self.state = state
        atomic.write_text(self.state_path, json.dumps(state, indent=1))

    # resume

    def restore(self, model):
        """Roll the folder back to the last committed epoch and load that epoch's weights and optimizer
        state into `model` (built). Returns the epoch to start from (0: a fresh start); call it before
        `model.fit(..., initial_epoch=...)`."""
        self.set_model(model)
        optimizer = model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        state = self._read_state()
        if state is None or not state.get("weights"):
            return self._start(state.get("start") if state else None)
        self._promote(state)  # a kill between the commit and the rename of best.keras: finish it
        best, best_epoch = state.get("best"), state.get("best_epoch")
        if best_epoch is not None and self.best_path and not is_complete_keras_file(self.best_path):
            warnings.warn(f"{self.best_path} (epoch {best_epoch}, score {best:.4f}) is damaged or missing; the best "
                          f"of the remaining epochs will replace it", UserWarning, stacklevel=2)
            best, best_epoch = None, None
        errors = []
        for commit in [state] + ([state["previous"]] if state.get("previous") else []):
            path = self._path(commit["weights"])
            try:
                self.model.load_weights(path)
            except Exception as e:  # noqa: BLE001 (h5py raises OSError, KeyError, ValueError on damaged files)
                errors.append(f"{path}: {type(e).__name__}: {e}")
                continue
            if errors:
                warnings.warn(f"the backup of epoch {state['epoch']} does not load ({errors[0]}); resuming from "
                              f"epoch {commit['epoch']}: epoch {state['epoch']} is trained again",
                              UserWarning, stacklevel=2)
            roll_back_logs(self.logs, commit["logs"])
            # best.keras stays the model it is (committed, possibly by the newer epoch), with its score
            self.best = best if best is not None else -float("inf")
            self.best_epoch = best_epoch
            self.state = dict(commit, best=best, best_epoch=best_epoch, pending_best=None, start=state["start"],
                              previous=state.get("previous") if commit is state else None)
            self.restored_from, self.epoch = path, commit["epoch"]
            self.stopped = bool(commit.get("stopped"))
            self._prune()
            return self.epoch
        warnings.warn(f"no backup in {self.backup_dir} loads ({'; '.join(errors)}): starting over from epoch 1; "
                      f"the {state['epoch']} epoch(s) trained before are lost", UserWarning, stacklevel=2)
        return self._start(state.get("start"))

    def _start(self, start_sizes):
        """A fresh start (epoch 0): roll the logs back to the run's start, commit it."""
        if start_sizes is not None:
            roll_back_logs(self.logs, start_sizes)
        sizes = log_sizes(self.logs)
        self.best, self.best_epoch = -float("inf"), None
        self._write_state({"epoch": 0, "weights": None, "best": None, "best_epoch": None, "pending_best": None,
                           "logs": sizes, "callbacks": None, "stopped": False, "previous": None, "start": sizes})
        self._prune()
        self.epoch = 0
        return 0

    # commit

    def _failed(self):
        return self.nan_guard is not None and self.nan_guard.message is not None

    def on_train_begin(self, logs=None):
        if self.state is None:
            raise RuntimeError("call EpochCommit.restore(model) before fit (it gives the initial epoch)")
        # after the callbacks' own on_train_begin (they reset their counters): the committed counters
        for callback, values in zip(self.callbacks, self.state.get("callbacks") or ()):
            for name, value in values.items():
                setattr(callback, name, value)

    def _improved(self, logs):
        if self.best_path is None:
            return None
        key = self.monitor if self.monitor in logs else self.monitor.replace("val_", "")
        value = logs.get(key)
        if value is None or not math.isfinite(float(value)) or float(value) <= self.best:
            return None
        return key, float(value)

    def on_epoch_end(self, epoch, logs=None):
        if self._failed():  # never commit a NaN epoch
            return
        from keras_gst.training.callbacks import save_model

        logs = logs or {}
        done = epoch + 1
        weights = f"epoch_{done:04d}.weights.h5"
        improved = self._improved(logs)
        backup_bytes, best_bytes = epoch_write_bytes(self.model)
        atomic.require_space(self.backup_dir, backup_bytes + (best_bytes if improved else 0))
        save_weights(self.model, self._path(weights))
        pending = None
        if improved:
            pending = f"best_{done:04d}.keras"
            save_model(self.model, self._path(pending), include_optimizer=False)
            self.best, self.best_epoch = improved[1], done
        previous = ({k: self.state.get(k) for k in ("epoch", "weights", "logs", "callbacks")}
                    if self.state.get("weights") else None)
        self._write_state({"epoch": done, "weights": weights, "best": self.best if self.best_epoch else None,
                           "best_epoch": self.best_epoch, "pending_best": pending, "logs": log_sizes(self.logs),
                           "callbacks": [callback_state(c) for c in self.callbacks],
                           "stopped": bool(self.model.stop_training), "previous": previous,
                           "start": self.state["start"]})
        self._promote(self.state)
        self._prune()
        self.epoch, self.stopped = done, self.state["stopped"]
        if improved and self.params.get("verbose"):
            print(f"epoch {done}: {improved[0]} improved to {self.best:.4f}, saved {self.best_path}", flush=True)

    def _promote(self, state):
        """Rename the committed pending best model to best_path (and write best.txt)."""
        pending = state.get("pending_best")
        if not pending or not os.path.exists(self._path(pending)):
            return
        os.replace(self._path(pending), self.best_path)
        atomic.fsync_path(os.path.dirname(os.path.abspath(self.best_path)))
        atomic.write_text(os.path.splitext(self.best_path)[0] + ".txt", f"{state['best_epoch']} {state['best']}\n")

    def _prune(self):
        """Remove weight copies and staged best models the state does not name (older, or written after
        the last commit)."""
        state = self.state or {}
        kept = {state.get("weights"), (state.get("previous") or {}).get("weights"), state.get("pending_best")}
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.backup_dir):
                if (WEIGHTS.match(name) or STAGED_BEST.match(name)) and name not in kept:
                    os.remove(self._path(name))
