"""Distribution strategies: one machine (`MirroredStrategy`) or several (`MultiWorkerMirroredStrategy`
from `TF_CONFIG`).

Keras 3 `model.fit` works under `MirroredStrategy` but fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585, tensorflow/tensorflow#72388), so `keras_gst.training.fit` runs its own small
loop there (`loop.py`). BatchNorm moving statistics are per replica in both; `sync_batchnorm_statistics`
averages them across all replicas (and workers), so every worker saves the same model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    import keras

STRATEGIES = ("auto", "mirrored", "multi_worker", "default")


def split_cpu(num_devices: int) -> list[str]:
    """Split the first physical CPU into `num_devices` logical devices (tests, CPU smoke runs).

    Must run before TensorFlow initialises its devices. Returns the logical CPU device names.

    Example:

    ```python
    import subprocess
    import sys

    # in a fresh process: TensorFlow allows it only before its first use
    code = "from keras_gst.training import split_cpu; print(len(split_cpu(2)))"
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip())  # 2
    ```
    """
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * int(num_devices))
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def tf_config():
    """The parsed `TF_CONFIG` environment variable, or {}."""
    raw = os.environ.get("TF_CONFIG", "")
    return json.loads(raw) if raw.strip() else {}


def num_workers_in_tf_config():
    cluster = tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def get_strategy(kind: str = "auto", devices: Sequence[str] | None = None) -> tf.distribute.Strategy:
    """A `tf.distribute.Strategy`.

    kind: "auto" (multi-worker if `TF_CONFIG` names more than one worker, else mirrored), "mirrored"
        (all local GPUs, else the CPU(s); `devices` overrides), "multi_worker" (`TF_CONFIG`), or
        "default" (no distribution).

    Example:

    ```python
    from keras_gst.training import get_strategy

    strategy = get_strategy("default")  # "auto": TF_CONFIG's workers, else every local GPU (or the CPU)
    print(strategy.num_replicas_in_sync)  # 1
    ```
    """
    if kind not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: {kind!r}")
    if kind == "auto":
        kind = "multi_worker" if num_workers_in_tf_config() > 1 else "mirrored"
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "multi_worker":
        if not tf_config():
            raise ValueError("strategy='multi_worker' needs the TF_CONFIG environment variable (docs/training.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)


def num_workers(strategy):
    """Machines training under `strategy`: the chief and worker tasks of its cluster resolver's cluster spec
    (`TF_CONFIG` for `MultiWorkerMirroredStrategy`); 1 without a cluster (one machine)."""
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec() if resolver is not None else None
    if not spec:
        return 1
    return sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs) or 1


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and num_workers(strategy) > 1


def worker_info(strategy):
    """(task index, is_chief) of this process; (0, True) on one machine."""
    if not is_multi_worker(strategy):
        return 0, True
    task = tf_config().get("task", {})
    index = int(task.get("index", 0))
    is_chief = task.get("type") == "chief" or (task.get("type") == "worker" and index == 0 and "chief" not in tf_config().get("cluster", {}))
    return index, is_chief


def batchnorm_statistics(model):
    """The BN moving means and variances of `model` (non-trainable variables named moving_*)."""
    return [v for v in model.non_trainable_variables if "moving_" in v.path]


def sync_batchnorm_statistics(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Average the BN moving statistics over all replicas (and workers) of `strategy`, in place.

    A collective op under multi-worker strategies: every worker must call it at the same point.

    Example:

    ```python
    import keras_gst
    from keras_gst.training import get_strategy, sync_batchnorm_statistics

    strategy = get_strategy("mirrored")
    with strategy.scope():
        model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    sync_batchnorm_statistics(model, strategy)  # after training: every replica holds the mean statistics
    ```
    """
    variables = batchnorm_statistics(model)
    if strategy.num_replicas_in_sync == 1 or not variables:
        return

    @tf.function
    def sync():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            means = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in variables])
            for v, m in zip(variables, means):
                v.value.assign(m)

        strategy.run(replica_fn)

    with strategy.scope():
        sync()
