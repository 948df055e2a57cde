"""The paper's optimiser: SGD with momentum, PyTorch-style L2 weight decay on conv/dense kernels only,
gradient clipping by global norm after the cross-replica sum, step learning-rate decay.

The authors' code (TSN/TSM lineage) runs ``clip_grad_norm_(params, 20)`` on the (already all-reduced)
gradients, then ``torch.optim.SGD(momentum=0.9, weight_decay=wd)``, with ``weight_decay=0`` for BN
parameters and biases. `GSTSGD` reproduces that order on every Keras backend and under any `tf.distribute`
strategy:

1. sum the per-replica gradients (each replica's loss is already divided by the global batch),
2. clip them by their global norm (`clip_norm`, 20),
3. add ``weight_decay * w`` to the gradient of every decayed variable (rank >= 2: conv and dense
   kernels; BN gammas/betas and biases are rank 1 and never decayed), in the public `update_step`,
4. momentum SGD (Keras' update rule, identical to PyTorch's for a constant learning rate).

Keras' own `weight_decay` is decoupled (AdamW-style), unlike the paper's L2. Its `global_clipnorm` clips the
global gradients on the JAX and torch backends, which is step 2 there; on TensorFlow it would clip each
replica's partial gradient before the sum, so there the clip runs after the sum
(`keras_gst.private_api.ClipAfterCrossReplicaSum`, the one private Keras method this module extends).
"""

from __future__ import annotations

from collections.abc import Iterable

import keras

from keras_gst.private_api import ClipAfterCrossReplicaSum

BASE_BATCH = 24  # the paper's batch for lr 0.01


def scaled_learning_rate(base_lr: float, global_batch: int, base_batch: int = BASE_BATCH) -> float:
    """Linear scaling rule: `base_lr` is for `base_batch` clips; returns the lr for `global_batch`.

    Example:

    ```python
    from keras_gst.training import scaled_learning_rate

    print(scaled_learning_rate(0.01, global_batch=48))  # 0.02
    ```
    """
    if global_batch < 1:
        raise ValueError(f"global_batch must be >= 1. Received: global_batch={global_batch}")
    return float(base_lr) * float(global_batch) / float(base_batch)


def step_decay_schedule(learning_rate: float, steps_per_epoch: int, decay_epochs: Iterable[int] = (),
                        factor: float = 0.1) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Piecewise-constant lr: `learning_rate`, times `factor` from each (0-based) epoch in `decay_epochs` on
    (the authors' ``lr * 0.1 ** sum(epoch >= lr_steps)``).

    Returns a plain float when there is no decay epoch (a constant schedule).

    Example:

    ```python
    from keras_gst.training import step_decay_schedule

    schedule = step_decay_schedule(0.1, steps_per_epoch=10, decay_epochs=[2])
    print(round(float(schedule(19)), 4), round(float(schedule(20)), 4))  # 0.1 0.01
    ```
    """
    decay_epochs = sorted(int(e) for e in decay_epochs)
    if not decay_epochs:
        return float(learning_rate)
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1. Received: {steps_per_epoch}")
    # Keras evaluates the schedule at `iterations` before the update and PiecewiseConstantDecay switches
    # after a boundary: the first step of epoch e (0-based) is iteration e * steps_per_epoch.
    boundaries = [e * int(steps_per_epoch) - 1 for e in decay_epochs]
    values = [float(learning_rate) * factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def is_decayed(variable):
    """Weight decay applies to conv and dense kernels (rank >= 2), never to BN parameters or biases."""
    return len(variable.shape) >= 2


@keras.saving.register_keras_serializable(package="keras_gst")
class GSTSGD(ClipAfterCrossReplicaSum, keras.optimizers.SGD):
    """SGD + momentum with the authors' gradient clipping and L2 weight decay (see the module docstring).

    Args:
        learning_rate: float or `LearningRateSchedule`.
        momentum: 0.9 in the paper.
        weight_decay: L2 coefficient added to the gradient of conv/dense kernels (paper 5e-4, code 3e-4).
        clip_norm: clip the summed gradients to this global norm (20); None or 0 disables.

    Example:

    ```python
    import keras
    import keras_gst
    from keras_gst.training import GSTSGD

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    model.compile(optimizer=GSTSGD(0.01, weight_decay=5e-4, clip_norm=20.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    print(type(model.optimizer).__name__, model.optimizer.momentum)  # GSTSGD 0.9
    ```
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.01,
        momentum: float = 0.9,
        weight_decay: float | None = 5e-4,
        clip_norm: float | None = 20.0,
        name: str = "gst_sgd",
        **kwargs,
    ):
        for key in ("clipnorm", "global_clipnorm", "weight_decay"):
            kwargs.pop(key, None)
        if weight_decay is not None and weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={weight_decay}")
        if clip_norm is not None and clip_norm < 0:
            raise ValueError(f"clip_norm must be >= 0 or None. Received: clip_norm={clip_norm}")
        clip_norm = float(clip_norm) if clip_norm else None
        # TensorFlow: clipped after the cross-replica sum (ClipAfterCrossReplicaSum); JAX, torch: the gradients
        # `apply` receives are global already, and Keras' global_clipnorm clips them
        global_clipnorm = None if keras.backend.backend() == "tensorflow" else clip_norm
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=False, name=name,
                         global_clipnorm=global_clipnorm, **kwargs)
        self.l2_decay = float(weight_decay or 0.0)
        self.clip_norm = clip_norm

    def update_step(self, gradient, variable, learning_rate):
        if self.l2_decay and is_decayed(variable):
            gradient = keras.ops.add(gradient, keras.ops.multiply(keras.ops.cast(self.l2_decay, gradient.dtype), variable))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        for key in ("nesterov", "clipnorm", "global_clipnorm", "clipvalue"):
            config.pop(key, None)
        config.update(weight_decay=self.l2_decay, clip_norm=self.clip_norm)
        return config


def build_optimizer(
    base_lr: float = 0.01,
    global_batch: int = BASE_BATCH,
    steps_per_epoch: int = 1,
    decay_epochs: Iterable[int] = (),
    decay_factor: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    clip_norm: float = 20.0,
    base_batch: int = BASE_BATCH,
) -> GSTSGD:
    """`GSTSGD` with lr `base_lr * global_batch / base_batch` and step decay at `decay_epochs`.

    Example:

    ```python
    from keras_gst.training import build_optimizer

    optimizer = build_optimizer(base_lr=0.01, global_batch=48, steps_per_epoch=10, decay_epochs=[2])
    print(type(optimizer).__name__, round(float(optimizer.learning_rate), 4))  # GSTSGD 0.02
    ```
    """
    lr = scaled_learning_rate(base_lr, global_batch, base_batch)
    schedule = step_decay_schedule(lr, steps_per_epoch, decay_epochs, decay_factor)
    return GSTSGD(learning_rate=schedule, momentum=momentum, weight_decay=weight_decay, clip_norm=clip_norm)
