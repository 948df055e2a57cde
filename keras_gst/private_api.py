"""The private Keras, keras-hub, TensorFlow and PyTorch APIs keras_gst relies on, in one module, each with the
reason no public API does.

`tests/test_private_api.py` checks that each one is still there and still called where this module expects,
so a Keras or keras-hub upgrade that renames or moves one fails there, by name, instead of silently changing
training, logging or preset loading. Only the standard library is imported at import time (any package may
import this module; docs/architecture.md).
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


class KeepEpochLearningRate:
    """`keras.callbacks.TensorBoard` mixin: the epoch's `learning_rate` already in the logs is written as is.

    Why private: Keras' TensorBoard replaces `logs["learning_rate"]` with the optimizer's rate read at the
    epoch end (after the last step, so the next epoch's rate once a step decay falls there) in
    `_collect_learning_rate(logs)`, with no public switch.
    """

    def _collect_learning_rate(self, logs):
        if logs and "learning_rate" in logs:
            return logs
        return super()._collect_learning_rate(logs)


def flatten_layers(model):
    """Every layer nested in `model` (sublayers of layers included, `model` itself not), in Keras' order.

    Why private: Keras 3 has no public recursive traversal. `Model.layers` lists the direct children only, and
    the BatchNormalization sublayers of a unit (`GSTBlock.bn`) are not among them; `Layer._flatten_layers`
    is Keras' own walk (used by its saving and `summary` code).
    """
    return model._flatten_layers(include_self=False, recursive=True)


class MissingVideoConverter:
    """keras-hub `Preprocessor` mixin: `from_preset` on a preset without video_converter.json (a
    backbone-only preset) builds `cls.default_video_converter(backbone_config)` instead of failing.

    Why private: keras-hub's preset loader fills a preprocessor's missing arguments in the classmethod
    `Preprocessor._add_missing_kwargs(loader, kwargs)` (keras_hub/src/models/preprocessor.py, documented
    there as the method to override) and has no public hook for it; `check_file_exists` is the loader's own
    test for a file of a local or remote (kaggle://, hf://) preset, exported nowhere public.
    """

    @classmethod
    def _add_missing_kwargs(cls, loader, kwargs):
        from keras_hub.src.utils.preset_utils import VIDEO_CONVERTER_CONFIG_FILE, check_file_exists

        if "video_converter" not in kwargs and not check_file_exists(loader.preset, VIDEO_CONVERTER_CONFIG_FILE):
            kwargs["video_converter"] = cls.default_video_converter(loader.config)
        return super()._add_missing_kwargs(loader, kwargs)


def preprocessing_function(fn):
    """keras-hub's decorator of a `Preprocessor.call(x, y, sample_weight)`: runs it on the CPU in TensorFlow
    (converting NumPy / backend inputs in and backend tensors out) whatever the Keras backend, as every
    keras-hub preprocessor does.

    Why private: keras-hub exports it nowhere public (keras_hub/src/utils/tensor_utils.py).
    """
    from keras_hub.src.utils.tensor_utils import preprocessing_function as keras_hub_preprocessing_function

    return keras_hub_preprocessing_function(fn)


def variables_to_constants(concrete_function):
    """`concrete_function` with its variables as graph constants (TensorFlow's
    `convert_variables_to_constants_v2`), so Grappler folds the BatchNorm scales into the convolutions once.

    Why private: TensorFlow 2 exports its graph freezing nowhere public (tensorflow/python/framework/
    convert_to_constants.py); the TFLite converter and `saved_model_cli` call the same function.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(concrete_function)


def frozen_torch_compile(module):
    """`torch.compile(module)` with TorchInductor's freezing on: weights become constants, so inductor folds
    BatchNorm and prepacks oneDNN's convolution (and int8) kernels; PyTorch's fast CPU inference path, which
    the benchmark's PyTorch rows compare against. Sets the flag for the whole process (the bench runs each
    configuration in its own process).

    Why private: the switch is `torch._inductor.config.freezing`. The public route,
    `torch.compile(module, options={"freezing": True})`, is accepted but did not freeze with torch 2.13 here:
    GST-R50 8x224 at batch 1 ran in 726 ms, no faster than eager (716 ms), and in 306 ms with the config flag
    (2026-12-07, AMD EPYC, 2 threads; docs/performance.md, "A PyTorch row that was not frozen").
    """
    import torch
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(module)
