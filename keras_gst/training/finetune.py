"""Fine-tuning on your own videos: the pieces `keras-gst train --data DIR` adds around `fit`.

- `freeze_batchnorm`: partial BN (TSN, TSM): every BatchNorm frozen (inference mode, non-trainable) but
  the first one (the stem's, `stem/bn`), for small datasets.
- `format_load_report`: what `weights=` loaded and skipped, one line per skipped tensor with its reason.
- `finetune_records`: class folders (or list files) -> train / validation `Annotations`, with the seeded
  stratified split when there is no validation set.
- `finish_run`: OUT/labels.txt and OUT/model.keras (a copy of best.keras: the best model on validation top-1).
- `export_run`: OUT/model.tflite from OUT/model.keras with `keras_gst.export.export_model`.
- `fine_tune`: the whole `keras-gst train` workflow: records -> `fit` -> labels.txt, model.keras ->
  optional TFLite export; returns a `FineTuneResult`. Every argument is checked before any work.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import TYPE_CHECKING

from keras_gst.errors import ParameterError

if TYPE_CHECKING:
    from keras_gst.training.recipe import Recipe

EXPORTS = ("int8", "fp32", "none")
EXPORT_VIDEOS = 16  # training videos calibrating the export (2 clips each); validation videos for its parity

FIRST_BN = "stem/bn"


def freeze_batchnorm(model, keep=(FIRST_BN,)):
    """Freeze every `BatchNormalization` of `model` except those whose path is in `keep`: non-trainable, so
    they normalise with their moving statistics in training too (Keras 3). Returns the frozen layers' paths."""
    import keras

    from keras_gst.private_api import flatten_layers

    frozen = []
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.path not in keep:
            layer.trainable = False
            frozen.append(layer.path)
    return frozen


def _torch_dropped_reason(key, kept_init):
    if key.endswith("num_batches_tracked"):
        return "a BatchNorm step counter, not a weight"
    if key.split(".")[0] in ("fc", "new_fc"):
        head = "re-initialised" if kept_init else "not used"
        return f"classifier of another class count / ImageNet classes: the head frame_logits is {head}"
    return "not used by this model"


def format_load_report(report, weights):
    """Lines describing what `weights` put into the model: loaded counts and every skipped tensor with
    its reason. `report` is `model.load_report` (a `LoadReport`, a `ConversionReport` or None)."""
    if weights is None:
        return "weights: none (every weight randomly initialised)"
    if report is None:
        return (f"weights: every weight {weights} defines was loaded (ImageNet / preset / .weights.h5; the "
                f"classifier head frame_logits and GST temporal kernels keep their initialisation when the "
                f"source is a 2D ImageNet ResNet)")
    if hasattr(report, "dropped"):  # keras_gst.weights.torch_convert.ConversionReport
        lines = [f"weights: {weights} ({report.source} PyTorch checkpoint): loaded {len(report.loaded)} tensors, "
                 f"skipped {len(report.dropped)}, kept initialised {len(report.kept_init)}"]
        head_init = [p for p in report.kept_init if "frame_logits" in p]
        lines += [f"  skipped {key}: {_torch_dropped_reason(key, head_init)}" for key in sorted(report.dropped)]
        lines += [f"  kept initialised {path}" for path in report.kept_init]
        return "\n".join(lines)
    lines = [f"weights: {weights}: loaded {len(report.loaded)} layers, skipped {len(report.skipped)}"]
    lines += [f"  skipped {name}: {reason}" for name, reason in report.skipped]
    return "\n".join(lines)


def finetune_records(recipe, data_dir=None, val_split=None):
    """(train, val) `Annotations` for a fine-tuning run: class folders under `data_dir`, else the
    recipe's annotation files. Without a validation set and with `val_split`, a seeded stratified split
    of the training clips. Validation labels beyond the training class count are an error."""
    from keras_gst.data import check_label_range, read_class_folders, split_annotations
    from keras_gst.training.recipe import load_annotations, num_classes_of

    if data_dir is not None:
        train, val = read_class_folders(data_dir, on_error=recipe.on_error), None
        source = data_dir
    else:
        train, val = load_annotations(recipe, "train"), load_annotations(recipe, "val")
        source = recipe.val_annotations
    if val is None and val_split:
        if recipe.dataset == "shards":
            raise ValueError("shards cannot be split into train/validation: shard the validation videos into "
                             "their own folder (`keras-gst shard`) and pass it as --val-list")
        train, val = split_annotations(train, val_split, seed=recipe.seed or 0)
    if train is not None and val is not None and source is not None:
        check_label_range(val, num_classes_of(recipe, train), source)
    return train, val


def finish_run(result, output_dir):
    """Write OUT/labels.txt (class names, else the class indices) and OUT/model.keras: a copy of the best
    model on validation top-1 (best.keras), never a link (a later run may rewrite best.keras). Both are
    written atomically. Returns their paths."""
    from keras_gst.atomic import copy_file
    from keras_gst.data import write_labels

    labels = write_labels(os.path.join(output_dir, "labels.txt"),
                          result.class_names or [str(i) for i in range(result.num_classes)])
    model = copy_file(result.paths["best"], os.path.join(output_dir, "model.keras"))
    return {"labels": labels, "model": model}


@dataclasses.dataclass
class FineTuneResult:
    """What `fine_tune` returns: the `FitResult`, OUT/model.keras and OUT/labels.txt (None on a worker
    that is not the chief), the `ExportResult` of OUT/model.tflite (None without export), the error that
    stopped the export step (`ParameterError`, `ModelFileError`, `OpAuditError`, `ParityError`; the model
    and labels are written all the same; None when it succeeded) and the annotation entries skipped when
    the records were read.

    Example:

    ```python
    from keras_gst.training import FineTuneResult

    result = FineTuneResult(fit=None, model_path="run/model.keras", labels_path="run/labels.txt")
    print(result.export, result.export_error, result.skipped_entries)  # None None []
    ```
    """

    fit: object
    model_path: str | None
    labels_path: str | None
    export: object = None
    export_error: Exception | None = None
    skipped_entries: list = dataclasses.field(default_factory=list)


def check_fine_tune(recipe, data_dir=None, val_split=None, export=None):
    """The checks of `fine_tune` that need no model and no video; returns (val_split, export) with their
    defaults filled in. Raises `ParameterError` naming the argument (a `Recipe` field or a keyword)."""
    from keras_gst.checks import check_output

    if data_dir is not None and recipe.train_annotations:
        raise ParameterError("data_dir", "pass either data_dir (class folders) or train_annotations, not both")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise ParameterError("data_dir", f"class folder directory not found: {data_dir}")
    if val_split is not None and not 0 <= val_split < 1:
        raise ParameterError("val_split", f"must be in [0, 1), got {val_split!r}")
    export = export or ("int8" if data_dir is not None else "none")
    if export not in EXPORTS:
        raise ParameterError("export", f"must be one of {list(EXPORTS)}, got {export!r}")
    check_output("output_dir", recipe.output_dir, directory=True)
    return (0.2 if val_split is None and data_dir is not None else val_split), export


def _sample_paths(annotations, limit, seed, exclude=()):
    import numpy as np

    exclude = set(exclude)
    paths = [r.path for r in annotations.records if r.path not in exclude] if annotations is not None else []
    order = np.random.default_rng(seed).permutation(len(paths))
    return [paths[i] for i in order[:limit]]


def export_run(model_path, export, train, val, seed=0, exclude=(), verbose=True):
    """OUT/model.tflite from OUT/model.keras with `keras_gst.export.export_model`: `export` "int8"
    (calibrated on up to `EXPORT_VIDEOS` training videos, 2 clips each) or "fp32"; the parity report runs
    on up to `EXPORT_VIDEOS` validation videos (else the calibration videos). `exclude`: files the training
    found unreadable (`FitResult.skipped_files`), never used; other unreadable videos are skipped by the
    export's skip policy. Returns the `ExportResult`."""
    from keras_gst.export.workflow import export_model

    calibration = _sample_paths(train, EXPORT_VIDEOS, seed, exclude)
    parity = _sample_paths(val, EXPORT_VIDEOS, seed, exclude) or calibration
    out = os.path.join(os.path.dirname(model_path), "model.tflite")
    if verbose:
        print(f"exporting {out} ({export})", flush=True)
    return export_model(model_path, out, "tflite", quantize="none" if export == "fp32" else export,
                        calibration=calibration, parity_data=parity, verbose=verbose)


def unread_class_warnings(train, skipped_files, class_names=()):
    """One message per class whose every training clip was skipped as unreadable: the model never saw it
    (before: the run ended as a success, its only trace the count of skipped files)."""
    skipped = {os.path.normpath(p) for p in skipped_files}
    clips, unread = {}, {}
    for r in train.records:
        if isinstance(r.label, int) and r.label >= 0:
            clips[r.label] = clips.get(r.label, 0) + 1
            unread[r.label] = unread.get(r.label, 0) + (os.path.normpath(r.path) in skipped)
    messages = []
    for label in sorted(clips):
        if unread[label] == clips[label]:
            name = f"class {class_names[label]!r} (label {label})" if label < len(class_names or ()) else f"label {label}"
            messages.append(f"{name}: none of its {clips[label]} training clips could be read, so the model never "
                            f"learned it; replace or re-encode its videos (they are named in the log) and train again")
    return messages


def fine_tune(recipe: Recipe, data_dir: str | os.PathLike | None = None, val_split: float | None = None,
              export: str | None = None) -> FineTuneResult:
    """The `keras-gst train` workflow: train `recipe` on class folders (`data_dir`: DIR/<class>/<videos>)
    or on its annotation files, write OUT/labels.txt and OUT/model.keras (the best model), then export
    OUT/model.tflite with its parity report. Returns a `FineTuneResult`.

    Args:
        recipe: a `Recipe` (its fields are checked when it is made).
        data_dir: class folders instead of `recipe.train_annotations`.
        val_split: seeded stratified validation share when there is no validation set (default 0.2 with
            `data_dir`, else no split; 0: none).
        export: "int8" (default with `data_dir`), "fp32" or "none" (default otherwise).

    Every argument, the output folder and the weights are checked before any data or model is loaded
    (`ParameterError` naming the argument). A failed export step does not raise: the trained model stays
    and `FineTuneResult.export_error` holds the error. With `recipe.verbose`, progress and results are
    printed.

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.training import Recipe, fine_tune

    train_list, val_list, _ = write_synthetic_dataset("synthetic", num_videos_per_class=2, frames=8, size=32,
                                                      num_classes=2)
    recipe = Recipe(train_annotations=train_list, val_annotations=val_list, class_file="synthetic/classes.txt",
                    num_frames=4, scale_size=36, crop_size=32, depth=18, weights=None, epochs=1, batch_size=2,
                    decay_epochs=(), output_dir="run", strategy="default", histograms=False, verbose=0)
    result = fine_tune(recipe, export="none")  # export="int8": also run/model.tflite and its parity report
    print(result.model_path, open(result.labels_path).readline().strip())  # run/model.keras moving something from left to right
    ```
    """
    from keras_gst.training import fit
    from keras_gst.weights import check_weights

    val_split, export = check_fine_tune(recipe, data_dir, val_split, export)
    try:
        check_weights(recipe.weights, recipe.depth)
    except (FileNotFoundError, TypeError, ValueError) as e:
        raise ParameterError("weights", str(e)) from e
    say = print if recipe.verbose else (lambda *a, **k: None)
    train, val = finetune_records(recipe, data_dir, val_split)
    skipped = list(getattr(train, "skipped", None) or [])
    if skipped:
        say(f"{len(skipped)} entries skipped (not videos / missing / bad labels), e.g. {skipped[0]}")
    result = fit(recipe, train_records=train, val_records=val)
    if not result.is_chief:
        return FineTuneResult(result, None, None, skipped_entries=skipped)
    outputs = finish_run(result, recipe.output_dir)
    say(f"done in {result.seconds:.0f}s: best model {result.paths['best']}")
    best = "validation top-1" if val is not None else "training top-1: no validation set"
    say(f"wrote {outputs['model']} (best on {best}) and {outputs['labels']} ({result.num_classes} classes)")
    if result.evaluation:
        e = result.evaluation
        say(f"validation ({e['num_samples']} clips): top-1 {e['top1']:.4f}  top-5 {e['top5']:.4f}  "
            f"mean class accuracy {e['mean_class_accuracy']:.4f}  (report in {result.paths['eval']})")
    if result.skipped_items:
        say(f"{result.skipped_items} unreadable training files were skipped (see the log)")
    for message in unread_class_warnings(train, result.skipped_files, result.class_names):
        warnings.warn(message, UserWarning, stacklevel=2)
    done = FineTuneResult(result, outputs["model"], outputs["labels"], skipped_entries=skipped)
    if export != "none":
        from keras_gst.errors import KerasGSTError
        from keras_gst.export.errors import OpAuditError, ParityError
        from keras_gst.export.workflow import format_parity

        try:
            done.export = export_run(outputs["model"], export, train, val, recipe.seed or 0, result.skipped_files,
                                     verbose=bool(recipe.verbose))
        except (KerasGSTError, OpAuditError, ParityError) as e:
            done.export_error = e
            return done
        if done.export.skipped:
            say(f"{len(done.export.skipped)} unreadable export input(s) skipped, e.g. {done.export.skipped[0][1]}")
        say("parity: " + format_parity(done.export.report))
    return done
