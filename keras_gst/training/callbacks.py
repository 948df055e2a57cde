"""Training callbacks: learning rate in the logs, BN |gamma| histograms in TensorBoard (paper Fig. 4),
a clear stop on a non-finite loss, BN statistics averaged over replicas at each epoch end. The backup,
best model and resume are `keras_gst.training.commit.EpochCommit`."""

from __future__ import annotations

import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_gst import atomic
from keras_gst.analysis.bn import bn_gamma_split
from keras_gst.private_api import KeepEpochLearningRate
from keras_gst.training.distribute import sync_batchnorm_statistics


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the `learning_rate` used during the epoch (read at its start) to the epoch logs (history, CSV
    log, TensorBoard).

    Example:

    ```python
    import keras
    import numpy as np
    from keras_gst.training import LearningRateLogger, step_decay_schedule

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(step_decay_schedule(0.1, 1, decay_epochs=[1])), loss="mse")
    history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), batch_size=4, epochs=2, verbose=0,
                        callbacks=[LearningRateLogger()])
    print([round(lr, 4) for lr in history.history["learning_rate"]])  # [0.1, 0.01]
    ```
    """

    def __init__(self):
        super().__init__()
        self._lr = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.model.optimizer is not None:
            self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._lr is not None:
            logs["learning_rate"] = self._lr


class TensorBoard(KeepEpochLearningRate, keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, keeping the epoch's `learning_rate` from `LearningRateLogger` (Keras
    reads the optimizer at the epoch end, i.e. the next epoch's rate after a decay step;
    `keras_gst.private_api.KeepEpochLearningRate`). Its epoch summaries reach the disk at each epoch end
    (TensorFlow flushes a summary writer when its `as_default()` block ends), so `EpochCommit` records what
    the epoch wrote."""


class BatchNormGammaHistograms(keras.callbacks.Callback):
    """Each epoch, writes |gamma| histograms of every unit's BN to TensorBoard: `bn_gamma/<unit>/spatial`
    and `bn_gamma/<unit>/temporal` (GST units; baselines: `all`), plus their means as scalars.

    Example:

    ```python
    import os
    import numpy as np
    import keras_gst
    from keras_gst.training import BatchNormGammaHistograms

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    model.compile()
    model.fit(np.zeros((2, 4, 32, 32, 3), "uint8"), np.array([0, 1]), verbose=0,
              callbacks=[BatchNormGammaHistograms("logs/bn")])
    print(len(os.listdir("logs/bn")) > 0)  # True
    ```
    """

    def __init__(self, log_dir: str | os.PathLike):
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


def save_model(model, path, include_optimizer=True):
    """`model.save(path)` written atomically (temporary name, then rename). Without the optimizer (an
    inference model, half the size of a GST-ResNet with SGD momentum) the file loads as an uncompiled
    model."""
    optimizer, compiled = model.optimizer, model.compiled
    with atomic.atomic_path(path) as tmp:
        if include_optimizer:
            model.save(tmp)
            return path
        model.optimizer, model.compiled = None, False  # nothing optimizer- or compile-related is written
        try:
            model.save(tmp)
        finally:
            model.optimizer, model.compiled = optimizer, compiled
    return path


class NonFiniteLossError(RuntimeError):
    """Training stopped because a loss or metric became NaN or infinite.

    Example:

    ```python
    from keras_gst.training import NonFiniteLossError

    try:  # what keras_gst.training.fit raises after `StopOnNaN` stopped the run
        raise NonFiniteLossError("loss became nan at epoch 3, batch 7: training stopped")
    except RuntimeError as error:
        print(type(error).__name__)  # NonFiniteLossError
    ```
    """


def _non_finite(logs):
    """(name, value) of the first NaN / infinite number in `logs`, else None."""
    for name, value in (logs or {}).items():
        try:
            value = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            return name, value
    return None


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss, or at an epoch end whose training or validation
    loss or metric is non-finite, with a message naming where, the last epoch whose values were all finite
    (the one the backup, checkpoints and best model hold) and the usual causes; `fit` then raises
    `NonFiniteLossError` (after the callbacks' `on_train_end`).

    Callbacks placed after it (backup, checkpoints) see `message` set in the same `on_epoch_end` and save
    nothing. Unlike `keras.callbacks.TerminateOnNaN`, the stop is an error a script cannot mistake for
    success, and the backup of the last good epoch is kept for a resume.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_gst.training import StopOnNaN

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = StopOnNaN()
    model.fit(np.array([[np.nan]]), np.array([[1.0]]), epochs=3, verbose=0, callbacks=[stop])
    print(stop.last_finite_epoch, stop.message.startswith("loss became nan at epoch 1, batch 1"))  # 0 True
    ```
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self.last_finite_epoch = None  # 1-based; 0: none yet
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.message = None
        self.last_finite_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.last_finite_epoch is None:  # a resumed run starts after its last (finite) backed-up epoch
            self.last_finite_epoch = epoch

    def _stop(self, where, name, value):
        last = self.last_finite_epoch or 0
        kept = (f"the last epoch with finite values is epoch {last}: the backup, checkpoints and best model hold "
                f"it, and running the same command again resumes from it"
                if last else "no epoch ended with finite values, so nothing was saved")
        self.message = (
            f"{name} became {value} at {where}: training stopped; {kept}. Usual causes: a learning rate too "
            f"high for the batch size (lr scales with the global batch: lower --lr), corrupt input frames, or "
            f"a label out of range."
        )
        print(f"\n{self.message}", flush=True)
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.message is None:
            bad = _non_finite({k: v for k, v in (logs or {}).items() if k == "loss"})
            if bad:
                self._stop(f"epoch {self._epoch + 1}, batch {batch + 1}", *bad)

    def on_epoch_end(self, epoch, logs=None):
        if self.message is not None:
            return
        bad = _non_finite(logs)
        if bad:
            self._stop(f"the end of epoch {epoch + 1}", *bad)
        else:
            self.last_finite_epoch = epoch + 1


class SyncBatchNormStatistics(keras.callbacks.Callback):
    """At each epoch end, averages the BN moving statistics over the strategy's replicas, so checkpoints
    and validation use the same statistics on every replica and worker.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.training import SyncBatchNormStatistics, get_strategy

    strategy = get_strategy("mirrored")
    with strategy.scope():
        model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
        model.compile()
    history = model.fit(np.zeros((2, 4, 32, 32, 3), "uint8"), np.array([0, 1]), verbose=0,
                        callbacks=[SyncBatchNormStatistics(strategy)])
    print(len(history.history["loss"]))  # 1
    ```
    """

    def __init__(self, strategy: tf.distribute.Strategy):
        super().__init__()
        self.strategy = strategy

    def on_epoch_end(self, epoch, logs=None):
        sync_batchnorm_statistics(self.model, self.strategy)
