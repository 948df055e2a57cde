"""The private Keras APIs keras_gst relies on, in one module, each with the reason no public API does.

`tests/test_private_api.py` checks that each one is still there and still called where this module expects,
so a Keras upgrade that renames or moves one fails there, by name, instead of silently changing training.
Only the standard library is imported at import time (any package may import this module;
docs/architecture.md).
"""


class ClipAfterCrossReplicaSum:
    """Optimizer mixin: on the TensorFlow backend, clip the gradients to the global norm `self.clip_norm` after
    the cross-replica sum and before the update (the authors' `clip_grad_norm_` on all-reduced gradients).

    Why a private method: Keras' public `clipnorm` / `global_clipnorm` clip in `Optimizer.apply`, which under a
    `tf.distribute` strategy runs in each replica before the gradients are summed, so each replica's partial
    gradient would be clipped instead of their sum. The TensorFlow backend's optimizer sums the gradients in
    `_all_reduce_sum_gradients(grads_and_vars)` (keras/src/backend/tensorflow/optimizer.py), called by
    `_backend_update_step` right before the per-variable `update_step`; Keras has no public hook between the
    two, so this extends that method. The JAX and torch backends never call it: their `apply` receives the
    global gradients, and the public `global_clipnorm` clips them there (see `GSTSGD`).
    """

    clip_norm = None

    def _all_reduce_sum_gradients(self, grads_and_vars):
        pairs = list(super()._all_reduce_sum_gradients(grads_and_vars))
        if not self.clip_norm:
            return pairs
        import tensorflow as tf  # the TensorFlow backend's optimizer is the only caller

        present = [i for i, (g, _) in enumerate(pairs) if g is not None]
        clipped, _ = tf.clip_by_global_norm([pairs[i][0] for i in present], self.clip_norm)
        for i, g in zip(present, clipped):
            pairs[i] = (g, pairs[i][1])
        return pairs
