"""`fit(recipe)` (exported as `keras_gst.training.fit`): build the data and model, compile with the paper's optimiser, train under a
distribution strategy with checkpoints, resume, best-model tracking, TensorBoard and a NaN stop, then
evaluate the best model and plot its BN |gamma| histograms.

`fit` is a sequence of named steps: `_check` (clips, classes, global batch, steps) -> `_build_data` (tf.data
pipelines) -> `_build_compiled_model` -> `_callbacks` -> `_train` (prepare the output folder, restore the
last committed epoch, `_run_epochs`, `_finish`: best model and final evaluation) -> `_result`.

One machine: Keras `model.fit` under `MirroredStrategy` (all local GPUs, else the CPU). Several
machines (`TF_CONFIG` with more than one worker): `MultiWorkerMirroredStrategy` with the custom loop of
`loop.py`. The global batch is `recipe.batch_size` x replicas and the lr scales with it. The output folder
(which one, fresh or resumed, checkpoints, write errors) is `keras_gst.training.output`'s.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
import warnings
from typing import TYPE_CHECKING

import keras
import tensorflow as tf

from keras_gst import atomic, locks
from keras_gst.training import callbacks as C
from keras_gst.training.commit import EpochCommit, is_complete_keras_file
from keras_gst.training import distribute as D
from keras_gst.training.output import (WRITE_ERRORS, EpochCheckpoint, OutputWriteError, prepare_output_dir,  # noqa: F401
                                       worker_output_dir, write_error)
from keras_gst.training.optim import build_optimizer, scaled_learning_rate
from keras_gst.training.recipe import dataset_options, load_annotations, num_classes_of, output_paths

if TYPE_CHECKING:
    from keras_gst.data import Annotations
    from keras_gst.training.recipe import Recipe


@dataclasses.dataclass
class FitResult:
    """What `fit` returns: the history (epoch -> metrics), paths, the final evaluation and timing.

    Example:

    ```python
    from keras_gst.training import FitResult

    result = FitResult(history={1: {"loss": 0.69}}, paths={"model": "run/model.keras"}, num_classes=2,
                       class_names=["left", "right"], global_batch=2, learning_rate=0.01 * 2 / 24, num_replicas=1,
                       steps_per_epoch=5, initial_epoch=0, evaluation=None, seconds=12.0)
    print(result.is_chief, result.skipped_items, result.skipped_files)  # True 0 []
    ```
    """

    history: dict
    paths: dict
    num_classes: int
    class_names: list
    global_batch: int
    learning_rate: float
    num_replicas: int
    steps_per_epoch: int
    initial_epoch: int
    evaluation: dict | None
    seconds: float
    is_chief: bool = True
    skipped_items: int = 0  # distinct training files skipped as unreadable
    skipped_files: list = dataclasses.field(default_factory=list)  # training and validation, sorted
    model: object = dataclasses.field(default=None, repr=False)


def _build_model(recipe, num_classes):
    """The recipe's `GSTVideoClassifier` (no preprocessor: the pipeline normalises), `recipe.weights` loaded.
    Under `dtype="mixed_float16"`, `compile` wraps the optimiser in Keras' `LossScaleOptimizer`."""
    from keras_gst.applications import build_classifier

    return build_classifier(
        recipe.depth, num_classes, weights=recipe.weights, alpha=recipe.alpha, beta=recipe.beta,
        num_frames=recipe.num_frames, input_shape=(recipe.crop_size, recipe.crop_size, 3), dropout=recipe.dropout,
        block=recipe.block, groups=recipe.groups, dtype=recipe.dtype, temporal_impl=recipe.temporal_impl,
        causal=recipe.causal, name=f"{recipe.block}_resnet{recipe.depth}", preprocessor=False,
    )


def compile_model(model: keras.Model, optimizer: keras.optimizers.Optimizer, num_classes: int) -> None:
    """Compile `model` as `fit` trains it: cross-entropy on logits, top-1 and top-5 accuracy (top-`num_classes`
    with fewer than 5 classes).

    Example:

    ```python
    import keras_gst
    from keras_gst.training import build_optimizer, compile_model

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    compile_model(model, build_optimizer(global_batch=2), num_classes=2)
    print(type(model.optimizer).__name__, type(model.loss).__name__)  # GSTSGD SparseCategoricalCrossentropy
    ```
    """
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, num_classes), name="top5"),
        ],
    )


MIN_STEPS_PER_EPOCH = 5


def _small_run_warnings(recipe, num_clips, global_batch, steps_per_epoch):
    """Settings that train but probably not as meant (messages in the API's spelling)."""
    messages = []
    if not recipe.steps_per_epoch and steps_per_epoch < MIN_STEPS_PER_EPOCH:
        smaller = max(1, num_clips // MIN_STEPS_PER_EPOCH // max(1, global_batch // recipe.batch_size))
        messages.append(f"{num_clips} training clips at a global batch of {global_batch} make {steps_per_epoch} "
                        f"step(s) per epoch (fewer than {MIN_STEPS_PER_EPOCH}): learning-rate decay, validation and "
                        f"early stopping count epochs; use more clips or a smaller batch_size (e.g. {smaller})")
    if recipe.freeze_bn and recipe.weights is None:
        messages.append("freeze_bn=True with weights=None: partial BN keeps the pretrained BatchNorm statistics, "
                        "but without pretrained weights they are the initial ones (mean 0, variance 1) and never "
                        "learn; drop freeze_bn or start from pretrained weights")
    return messages


def fit(recipe: Recipe, strategy: tf.distribute.Strategy | None = None, train_records: Annotations | None = None,
        val_records: Annotations | None = None) -> FitResult:
    """Train per `recipe` (a `Recipe`); returns a `FitResult`.

    `strategy`: a `tf.distribute.Strategy` (default: `get_strategy(recipe.strategy, recipe.devices)`).
    `train_records` / `val_records`: `keras_gst.data.Annotations` overriding the recipe's annotation
    files (e.g. the synthetic dataset, class folders).

    The output folder is locked for the run (`keras_gst.locks.output_lock`: a second writer gets
    `FolderLockedError` at once). Raises `NonFiniteLossError` on a NaN loss, `OutputWriteError` when the
    folder cannot be written (full disk: the message says how much an epoch needs), and
    `keras_gst.atomic.Interrupted` ("interrupted at epoch N; the same command resumes") on SIGINT / SIGTERM.
    Each finished epoch is committed as one unit (`EpochCommit`), so whenever the run stops, running it
    again resumes from the last finished epoch.

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.training import Recipe, fit

    train_list, val_list, _ = write_synthetic_dataset("synthetic", num_videos_per_class=2, frames=8, size=32,
                                                      num_classes=2)
    recipe = Recipe(train_annotations=train_list, val_annotations=val_list, class_file="synthetic/classes.txt",
                    num_frames=4, scale_size=36, crop_size=32, depth=18, weights=None, epochs=1, batch_size=2,
                    decay_epochs=(), output_dir="run", strategy="default", histograms=False, verbose=0)
    result = fit(recipe)
    print(result.num_classes, result.global_batch, result.initial_epoch)  # 2 2 0
    ```
    """
    start = time.time()
    strategy = strategy or D.get_strategy(recipe.strategy, recipe.devices)
    output_dir, is_chief = worker_output_dir(recipe, strategy)
    with locks.output_lock(output_dir):
        plan = _check(recipe, strategy, output_paths(output_dir), is_chief, train_records, val_records)
        data = _build_data(plan)
        model = _build_compiled_model(plan)
        callbacks = _callbacks(plan, data.val is not None)
        _print_plan(plan, model)
        history, initial_epoch, evaluation = _train(plan, model, data, callbacks)
        return _result(plan, data, model, history, initial_epoch, evaluation, time.time() - start)


@dataclasses.dataclass
class _Plan:
    """What `_check` settles before any pipeline or model is built."""

    recipe: object
    strategy: object
    paths: dict
    is_chief: bool
    multi_worker: bool
    train: object  # keras_gst.data.Annotations
    val: object  # keras_gst.data.Annotations or None
    class_names: list
    num_classes: int
    global_batch: int
    steps_per_epoch: int
    learning_rate: float


def _check(recipe, strategy, paths, is_chief, train_records, val_records):
    """Seed, read the clips and settle classes, global batch and steps (a `_Plan`); a ValueError before any
    work when there is nothing to train on or one global batch is more than the training clips."""
    from keras_gst.data import require_labels

    if recipe.seed is not None:
        keras.utils.set_random_seed(recipe.seed)
    train = train_records if train_records is not None else load_annotations(recipe, "train")
    val = val_records if val_records is not None else load_annotations(recipe, "val")
    if train is None or not len(train):
        raise ValueError("no training clips: check train_annotations and data_root "
                         f"({len(getattr(train, 'skipped', []) or [])} entries skipped)")
    require_labels(train, recipe.train_annotations or "the training clips")
    if val is not None:
        require_labels(val, recipe.val_annotations or "the validation clips")
    num_classes = num_classes_of(recipe, train)
    replicas = strategy.num_replicas_in_sync
    global_batch = recipe.batch_size * replicas
    if not recipe.steps_per_epoch and len(train) < global_batch:
        raise ValueError(f"{len(train)} training clips are fewer than one global batch of {global_batch} "
                         f"({recipe.batch_size} per replica x {replicas} replicas): lower batch_size")
    # The training stream is reshuffled passes over the clips, batched across pass boundaries (full
    # batches): ceil(clips / batch) steps make an epoch one pass, so no clip is left out of it.
    steps_per_epoch = recipe.steps_per_epoch or -(-len(train) // global_batch)
    for message in _small_run_warnings(recipe, len(train), global_batch, steps_per_epoch):
        warnings.warn(message, UserWarning, stacklevel=2)
    return _Plan(recipe, strategy, paths, is_chief, D.is_multi_worker(strategy), train, val,
                 list(train.class_names or []), num_classes, global_batch, steps_per_epoch,
                 scaled_learning_rate(recipe.base_lr, global_batch, recipe.base_batch))


@dataclasses.dataclass
class _Data:
    """The pipelines of a run and the logs of the clips they skip as unreadable."""

    train: object  # a tf.data.Dataset, or a distributed dataset on several workers
    val: object  # the same or None (no validation)
    validation_steps: int | None
    skip_log: object
    val_skip_log: object


def _build_data(plan):
    """The training and validation pipelines. Validation during training uses one view per clip (the centre
    clip and crop); the final evaluation of the best model uses the recipe's views."""
    from keras_gst.data import SkipLog, build_dataset

    recipe, strategy, train, val, global_batch = plan.recipe, plan.strategy, plan.train, plan.val, plan.global_batch
    class_names, num_classes = plan.class_names, plan.num_classes
    skip_log, val_skip_log = SkipLog(), SkipLog()
    train_options = dataset_options(recipe, True, class_names, num_classes)
    val_options = dataset_options(recipe, False, class_names, num_classes, single_view=True)
    if plan.multi_worker:
        # Every worker must run the same number of validation steps (collectives): repeat and bound.
        workers = D.num_workers(strategy)
        per_worker = len(val) // workers if val is not None else 0
        validation_steps = recipe.validation_steps or per_worker // (global_batch // workers)
        val_options.update(repeat=True, drop_remainder=True)

        def train_fn(ctx):
            return build_dataset(train, batch_size=global_batch, input_context=ctx, skip_log=skip_log, **train_options)

        def val_fn(ctx):
            return build_dataset(val, batch_size=global_batch, input_context=ctx, skip_log=val_skip_log, **val_options)

        train_ds = strategy.distribute_datasets_from_function(train_fn)
        val_ds = strategy.distribute_datasets_from_function(val_fn) if val is not None and validation_steps else None
    else:
        validation_steps = recipe.validation_steps
        train_ds = build_dataset(train, batch_size=global_batch, skip_log=skip_log, **train_options)
        val_ds = build_dataset(val, batch_size=global_batch, skip_log=val_skip_log, **val_options) if val is not None else None
    return _Data(train_ds, val_ds, validation_steps, skip_log, val_skip_log)


def _build_compiled_model(plan):
    """The recipe's model under the strategy: weights loaded (the load report printed when verbose), partial
    BN when asked, compiled with the paper's optimiser and the optimiser's slots built."""
    recipe = plan.recipe
    with plan.strategy.scope():
        with warnings.catch_warnings():
            if recipe.verbose:  # the load report is printed below instead of warned
                warnings.filterwarnings("ignore", message=r"loaded \d+ layers from")
            model = _build_model(recipe, plan.num_classes)
        if recipe.verbose:
            from keras_gst.training.finetune import format_load_report

            print(format_load_report(model.load_report, recipe.weights), flush=True)
        if recipe.freeze_bn:
            from keras_gst.training.finetune import freeze_batchnorm

            frozen = freeze_batchnorm(model)
            if recipe.verbose:
                print(f"partial BN: {len(frozen)} BatchNorm layers frozen, the first (stem/bn) trains", flush=True)
        optimizer = build_optimizer(recipe.base_lr, plan.global_batch, plan.steps_per_epoch, recipe.decay_epochs,
                                    recipe.decay_factor, recipe.momentum, recipe.weight_decay,
                                    recipe.clip_norm, recipe.base_batch)
        compile_model(model, optimizer, plan.num_classes)
        optimizer.build(model.trainable_variables)
    return model


@dataclasses.dataclass
class _Callbacks:
    """The run's callbacks in order; `commit` (last: it commits what the others wrote for the epoch) and
    `nan_guard` are among them."""

    all: list
    nan_guard: C.StopOnNaN
    commit: EpochCommit


def _callbacks(plan, validates):
    """NaN stop, learning rate in the logs, BN statistics synced; on the chief checkpoints, CSV history and
    TensorBoard; early stopping on validation top-1; the epoch commit last."""
    recipe, paths, is_chief = plan.recipe, plan.paths, plan.is_chief
    nan_guard = C.StopOnNaN()
    callbacks = [nan_guard, C.LearningRateLogger(), C.SyncBatchNormStatistics(plan.strategy)]
    if is_chief:
        callbacks += [
            EpochCheckpoint(paths["checkpoints"], recipe.keep_checkpoints, nan_guard),
            keras.callbacks.CSVLogger(paths["history"], append=True),
            C.TensorBoard(paths["tensorboard"], write_graph=False, update_freq="epoch"),
        ]
        if recipe.histograms:
            callbacks.append(C.BatchNormGammaHistograms(paths["tensorboard"]))
    stateful = []  # callbacks whose counters each epoch commits (a resume continues them)
    if recipe.patience and validates:
        stateful.append(keras.callbacks.EarlyStopping(monitor="val_top1", mode="max", patience=recipe.patience,
                                                      verbose=int(bool(recipe.verbose))))
    commit = EpochCommit(paths["backup"], paths["best"] if is_chief else None, nan_guard=nan_guard,
                         logs=[paths["history"], paths["tensorboard"]] if is_chief else [], callbacks=stateful)
    return _Callbacks(callbacks + stateful + [commit], nan_guard, commit)


def _print_plan(plan, model):
    recipe, train, val = plan.recipe, plan.train, plan.val
    if recipe.verbose:
        workers = f" on {D.num_workers(plan.strategy)} workers" if plan.multi_worker else ""
        print(f"{model.name}: {plan.num_classes} classes, {len(train)} training clips"
              f"{f', {len(val)} validation clips' if val is not None else ''}; "
              f"{plan.strategy.num_replicas_in_sync} replica(s){workers}, global batch {plan.global_batch}, "
              f"lr {plan.learning_rate:g}, {plan.steps_per_epoch} steps/epoch, {recipe.epochs} epochs", flush=True)


def _train(plan, model, data, callbacks):
    """Prepare the output folder, restore the last committed epoch, train, then finish (best model, final
    evaluation); returns (history, initial epoch, evaluation). An interrupt, an unwritable folder or a
    validation split with no readable clip becomes the typed error `fit` documents."""
    recipe, paths, commit = plan.recipe, plan.paths, callbacks.commit
    trained = False
    try:
        with atomic.signals_as_interrupts():
            # only now: a run that fails to start (data, weights) writes nothing
            resuming = prepare_output_dir(recipe, paths)
            with plan.strategy.scope():
                initial_epoch = commit.restore(model)
            if resuming and recipe.verbose and initial_epoch:
                print(f"resuming from {paths['backup']} after epoch {initial_epoch}", flush=True)
            epochs = initial_epoch if commit.stopped else recipe.epochs  # stopped early before a kill: done
            history = _run_epochs(plan, model, data, callbacks.all, initial_epoch, epochs)
            if callbacks.nan_guard.message:
                raise C.NonFiniteLossError(callbacks.nan_guard.message)
            trained = True
            evaluation = _finish(plan, model, commit)
    except StopIteration:  # Keras' validation pass found no batch: every validation clip was unreadable
        raise _no_validation_clip(data.val_skip_log.files) from None
    except KeyboardInterrupt as e:  # SIGINT, or SIGTERM (signals_as_interrupts)
        where = "the final evaluation" if trained else f"epoch {commit.epoch + 1}"  # the first not committed
        raise atomic.Interrupted(f"interrupted at {where}; the same command resumes",
                                 getattr(e, "signum", signal.SIGINT)) from None
    except OSError as e:
        if e.errno not in WRITE_ERRORS:
            raise
        raise write_error(e, paths["root"], model, recipe.keep_checkpoints) from e
    return history, initial_epoch, evaluation


def _run_epochs(plan, model, data, callbacks, initial_epoch, epochs):
    """Keras `model.fit` from `initial_epoch` to `epochs` on one machine; `loop.custom_fit` on several (Keras'
    fit fails under MultiWorkerMirroredStrategy, see `distribute`)."""
    recipe = plan.recipe
    if plan.multi_worker:
        from keras_gst.training.loop import custom_fit

        return custom_fit(model, plan.strategy, data.train, epochs, plan.steps_per_epoch,
                          validation_data=data.val, callbacks=callbacks, validation_steps=data.validation_steps,
                          verbose=recipe.verbose, initial_epoch=initial_epoch)
    with warnings.catch_warnings():
        # The training data repeats; the validation data ends without a known length, which Keras reports as
        # "ran out of data" once. Shuffling happens in the pipeline.
        warnings.filterwarnings("ignore", message=r".*input ran out of data")
        warnings.filterwarnings("ignore", message=r".*`shuffle=True` was passed")
        return model.fit(data.train, epochs=epochs, initial_epoch=initial_epoch,
                         steps_per_epoch=plan.steps_per_epoch, validation_data=data.val,
                         validation_steps=data.validation_steps, callbacks=callbacks, verbose=recipe.verbose)


def _result(plan, data, model, history, initial_epoch, evaluation, seconds):
    return FitResult(
        history=dict(history.history), paths=plan.paths, num_classes=plan.num_classes,
        class_names=plan.class_names, global_batch=plan.global_batch, learning_rate=plan.learning_rate,
        num_replicas=plan.strategy.num_replicas_in_sync, steps_per_epoch=plan.steps_per_epoch,
        initial_epoch=initial_epoch, evaluation=evaluation, seconds=seconds, is_chief=plan.is_chief,
        skipped_items=data.skip_log.total, skipped_files=sorted(set(data.skip_log.files) | set(data.val_skip_log.files)),
        model=model,
    )


def _no_validation_clip(files):
    from keras_gst.errors import DataFileError

    listed = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return DataFileError(files[0] if files else "the validation clips",
                         f"no validation clip could be read ({len(files)} unreadable file(s): {listed or 'none'}); "
                         "replace or remove them, or choose another validation split or list")


def _finish(plan, model, commit):
    """After training: best.keras (the last epoch's model when no epoch had a monitored value), the final
    evaluation, then the backup removed (only now: a complete best model exists). Returns the evaluation."""
    recipe, paths = plan.recipe, plan.paths
    evaluation = None
    if plan.is_chief:
        if commit.best_epoch is None:
            C.save_model(model, paths["best"], include_optimizer=False)
        if recipe.evaluate_at_end and plan.val is not None:
            evaluation = _final_evaluation(recipe, paths, plan.val, plan.class_names, plan.num_classes)
    if not plan.is_chief or is_complete_keras_file(paths["best"]):
        shutil.rmtree(paths["backup"], ignore_errors=True)
    return evaluation


def _final_evaluation(recipe, paths, val, class_names, num_classes):
    """Evaluate best.keras (outside any strategy) on the full validation split with the recipe's views;
    writes eval/ (confusion PNG/CSV, per-class CSV, metrics.json) and plots/bn_gamma.png."""
    from keras_gst.analysis.bn import plot_gamma_histograms
    from keras_gst.data import build_dataset
    from keras_gst.evaluation import evaluate

    with tf.distribute.get_strategy().scope():
        model = keras.models.load_model(paths["best"], compile=False)  # inference only (no optimizer state)
    ds = build_dataset(val, batch_size=recipe.batch_size, **dataset_options(recipe, False, class_names, num_classes))
    result = evaluate(model, ds, class_names, paths["eval"])
    os.makedirs(paths["plots"], exist_ok=True)
    plot_gamma_histograms(model, os.path.join(paths["plots"], "bn_gamma.png"))
    return {k: result[k] for k in ("top1", "top5", "mean_class_accuracy", "num_samples")}
