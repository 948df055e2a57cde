"""The output folder of a training run: which one (the chief's, or a worker's own), prepared for a fresh or a
resumed run, the kept per-epoch checkpoints, and the error naming the folder when it cannot be written."""

import errno
import os
import re
import shutil

import keras

from keras_gst import atomic
from keras_gst.atomic import write_text
from keras_gst.training import callbacks as C
from keras_gst.training import distribute as D
from keras_gst.training.commit import STATE, epoch_write_bytes


def worker_output_dir(recipe, strategy):
    """(folder, is_chief): `recipe.output_dir` on the chief, `workers/worker_N` inside it on another worker."""
    index, is_chief = D.worker_info(strategy)
    if is_chief:
        return recipe.output_dir, True
    return os.path.join(recipe.output_dir, "workers", f"worker_{index}"), False


def prepare_output_dir(recipe, paths):
    """Start fresh (unless resuming a committed run) and write recipe.json. A fresh run removes an earlier
    run's backup, checkpoints and history here, but keeps its best.keras / best.txt / model.keras until
    this run's first epoch replaces them (a loadable model is never deleted before its replacement)."""
    resuming = recipe.resume and os.path.exists(os.path.join(paths["backup"], STATE))
    if not resuming:
        for name in ("backup", "checkpoints"):
            shutil.rmtree(paths[name], ignore_errors=True)
        if os.path.exists(paths["history"]):
            os.remove(paths["history"])
    write_text(paths["recipe"], recipe.to_json())
    return resuming


WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


def write_error(error, folder, model, keep_checkpoints):
    """An `OutputWriteError` naming `folder` and about how much an epoch writes there."""
    backup, best = epoch_write_bytes(model)
    need = backup + best + keep_checkpoints * backup
    return OutputWriteError(
        f"cannot write to {folder}: {error}. An epoch writes about {need / 2**20:.0f} MB there (its backup with "
        f"optimizer state, {backup / 2**20:.0f} MB, and the best model, {best / 2**20:.0f} MB"
        f"{', and a checkpoint' if keep_checkpoints else ''}) before the older copies are removed: free space "
        f"or choose another output_dir; the same command resumes from the last finished epoch")


class OutputWriteError(OSError):
    """Training could not write its output folder (full disk, quota, read-only): the message names the
    folder and the space an epoch needs. Every file written before is complete."""


class EpochCheckpoint(keras.callbacks.Callback):
    """With `keep` > 0, saves `checkpoints/epoch_NNN.keras` each epoch (the model with optimizer state),
    keeping the `keep` latest epochs. Every file is written atomically; nothing is saved for an epoch with
    a non-finite loss or metric (`nan_guard` runs first and flags it). The best model is `EpochCommit`'s."""

    PATTERN = re.compile(r"^epoch_(\d+)\.keras$")

    def __init__(self, checkpoint_dir, keep, nan_guard=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self.keep = keep
        self.nan_guard = nan_guard

    def _prune(self, epoch):
        found = []
        for name in os.listdir(self.checkpoint_dir):
            m = self.PATTERN.match(name)
            if m:
                found.append((int(m.group(1)), os.path.join(self.checkpoint_dir, name)))
        for number, path in sorted(found)[: -self.keep]:
            if number != epoch:
                os.remove(path)

    def on_epoch_end(self, epoch, logs=None):
        if self.keep <= 0 or (self.nan_guard is not None and self.nan_guard.message):
            return
        atomic.require_space(os.path.dirname(os.path.abspath(self.checkpoint_dir)), sum(epoch_write_bytes(self.model)))
        C.save_model(self.model, os.path.join(self.checkpoint_dir, f"epoch_{epoch + 1:03d}.keras"))
        self._prune(epoch + 1)
