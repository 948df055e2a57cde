"""Training: `Recipe` + `fit(recipe)` (MirroredStrategy `model.fit`, or a custom loop for
MultiWorkerMirroredStrategy), the paper's optimiser, callbacks, strategies.

Names are imported on first use, so `keras_gst.training.recipe` (and the CLI's --help) loads without
TensorFlow.
"""

import importlib

_EXPORTS = {
    "keras_gst.training.callbacks": (
        "BatchNormGammaHistograms", "LearningRateLogger", "NonFiniteLossError", "StopOnNaN", "SyncBatchNormStatistics",
    ),
    "keras_gst.training.distribute": ("get_strategy", "split_cpu", "sync_batchnorm_statistics"),
    "keras_gst.training.finetune": ("FineTuneResult", "fine_tune"),
    "keras_gst.training.trainer": ("FitResult", "compile_model", "fit"),
    "keras_gst.training.optim": ("GSTSGD", "build_optimizer", "scaled_learning_rate", "step_decay_schedule"),
    "keras_gst.training.recipe": ("DATASETS", "Recipe", "load_annotations", "output_paths"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'keras_gst.training' has no attribute {name!r}")
