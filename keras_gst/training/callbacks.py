"""Training callbacks: learning rate in the logs, BN |gamma| histograms in TensorBoard (paper Fig. 4),
a clear stop on a non-finite loss, BN statistics averaged over replicas at each epoch end."""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_gst.analysis.bn import bn_gamma_split
from keras_gst.training.distribute import sync_batchnorm_statistics


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the `learning_rate` used during the epoch (read at its start) to the epoch logs (history, CSV
    log, TensorBoard)."""

    def __init__(self):
        super().__init__()
        self._lr = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.model.optimizer is not None:
            self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._lr is not None:
            logs["learning_rate"] = self._lr


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, keeping the epoch's `learning_rate` from `LearningRateLogger` (Keras
    reads the optimizer at the epoch end, i.e. the next epoch's rate after a decay step)."""

    def _collect_learning_rate(self, logs):
        if logs and "learning_rate" in logs:
            return logs
        return super()._collect_learning_rate(logs)


class BatchNormGammaHistograms(keras.callbacks.Callback):
    """Each epoch, writes |gamma| histograms of every unit's BN to TensorBoard: `bn_gamma/<unit>/spatial`
    and `bn_gamma/<unit>/temporal` (GST units; baselines: `all`), plus their means as scalars."""

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "bn_gamma"))
        with self._writer.as_default(step=epoch):
            for name, spatial, temporal in bn_gamma_split(self.model):
                if temporal.size:
                    tf.summary.histogram(f"bn_gamma/{name}/spatial", spatial)
                    tf.summary.histogram(f"bn_gamma/{name}/temporal", temporal)
                    tf.summary.scalar(f"bn_gamma_mean/{name}/spatial", float(spatial.mean()))
                    tf.summary.scalar(f"bn_gamma_mean/{name}/temporal", float(temporal.mean()))
                else:
                    tf.summary.histogram(f"bn_gamma/{name}/all", spatial)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite."""


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss with a message naming epoch, batch and the
    usual causes; `fit` then raises `NonFiniteLossError` (after the callbacks' `on_train_end`).

    Unlike `keras.callbacks.TerminateOnNaN`, the stop is an error a script cannot mistake for success,
    and the backup of the last good epoch is kept for a resume.
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if not math.isfinite(loss):
            self.message = (
                f"loss became {loss} at epoch {self._epoch + 1}, batch {batch + 1}: training stopped. "
                f"Usual causes: a learning rate too high for the batch size (lr scales with the global "
                f"batch), corrupt input frames, or a label out of range. Resume from the last epoch "
                f"checkpoint with a lower --lr."
            )
            print(f"\n{self.message}", flush=True)
            self.model.stop_training = True


class SyncBatchNormStatistics(keras.callbacks.Callback):
    """At each epoch end, averages the BN moving statistics over the strategy's replicas, so checkpoints
    and validation use the same statistics on every replica and worker."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def on_epoch_end(self, epoch, logs=None):
        sync_batchnorm_statistics(self.model, self.strategy)


class KeepBackupOnFailure(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that neither saves the weights of an epoch that ended in a NaN stop nor deletes its
    backup after one (the last good epoch stays there for a resume)."""

    def __init__(self, backup_dir, nan_guard=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.nan_guard = nan_guard

    def _failed(self):
        return self.nan_guard is not None and self.nan_guard.message is not None

    def on_epoch_end(self, epoch, logs=None):
        if not self._failed():  # never back up the weights of a NaN epoch
            super().on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if not self._failed():
            super().on_train_batch_end(batch, logs)

    def on_train_end(self, logs=None):
        if not self._failed():
            super().on_train_end(logs)
