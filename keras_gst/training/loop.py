"""A small training loop for `MultiWorkerMirroredStrategy`, where Keras 3 `model.fit` fails
(keras-team/keras#20585: `fit` hands a `PerReplica` batch to an op that wants a tensor).

Each step is `strategy.run(model.train_step, ...)` on a batch from
`strategy.distribute_datasets_from_function`: Keras' own `train_step` (loss scaled by the replica count,
`optimizer.apply`, metrics) runs per replica, and `GSTSGD` all-reduces the gradients across workers
before clipping and the update, so every worker applies the same update. Keras callbacks run as in
`fit` (`on_train_begin`, `on_epoch_*`, `on_train_batch_*`), so the epoch commit (backup, resume), checkpoints,
TensorBoard and the NaN stop work unchanged; BN moving statistics are averaged across workers at each
epoch end (`SyncBatchNormStatistics`).
"""

import time

import keras
import numpy as np
import tensorflow as tf


def _to_float(logs):
    return {k: float(np.asarray(v)) for k, v in logs.items()}


def custom_fit(model, strategy, train_dataset, epochs, steps_per_epoch, validation_data=None, callbacks=(),
               validation_steps=None, verbose=2, initial_epoch=0):
    """Train `model` (compiled under `strategy.scope()`) like `model.fit(...)`; returns the History.

    `train_dataset` and `validation_data` are distributed datasets (`distribute_datasets_from_function`);
    the training one must repeat; training starts after `initial_epoch` epochs (a resume). Every worker
    must call this with the same arguments.
    """
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [history] + list(callbacks), add_history=False, add_progbar=False, model=model, epochs=epochs,
        steps=steps_per_epoch, verbose=verbose,
    )

    def reduce(logs):
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

    @tf.function
    def train_step(iterator):
        return reduce(strategy.run(model.train_step, args=(next(iterator),)))

    @tf.function
    def test_step(batch):
        return reduce(strategy.run(model.test_step, args=(batch,)))

    model.stop_training = False
    callback_list.on_train_begin()
    iterator = iter(train_dataset)
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        start = time.time()
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = _to_float(train_step(iterator))
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if validation_data is not None and not model.stop_training:
            model.reset_metrics()
            val_logs = {}
            for i, batch in enumerate(validation_data):
                if validation_steps is not None and i >= validation_steps:
                    break
                val_logs = _to_float(test_step(batch))
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if verbose:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in epoch_logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {time.time() - start:.0f}s - {shown}", flush=True)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
