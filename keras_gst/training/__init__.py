"""Training: `Recipe` + `fit(recipe)` (MirroredStrategy `model.fit`, or a custom loop for
MultiWorkerMirroredStrategy), the paper's optimiser, callbacks, strategies.

Names are imported on first use, so `keras_gst.training.recipe` (and the CLI's --help) loads without
TensorFlow.
"""

from keras_gst.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "keras_gst.training.callbacks": (
        "BatchNormGammaHistograms", "LearningRateLogger", "NonFiniteLossError", "StopOnNaN", "SyncBatchNormStatistics",
    ),
    "keras_gst.training.distribute": ("get_strategy", "split_cpu", "sync_batchnorm_statistics"),
    "keras_gst.training.finetune": ("FineTuneResult", "fine_tune"),
    "keras_gst.training.trainer": ("FitResult", "compile_model", "fit"),
    "keras_gst.training.optim": ("GSTSGD", "build_optimizer", "scaled_learning_rate", "step_decay_schedule"),
    "keras_gst.training.recipe": ("DATASETS", "Recipe", "load_annotations", "output_paths"),
})
