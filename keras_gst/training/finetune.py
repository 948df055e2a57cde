"""Fine-tuning on your own videos: the pieces `keras-gst train --data DIR` adds around `fit`.

- `freeze_batchnorm`: partial BN (TSN, TSM): every BatchNorm frozen (inference mode, non-trainable) but
  the first one (the stem's, `stem/bn`), for small datasets.
- `format_load_report`: what `weights=` loaded and skipped, one line per skipped tensor with its reason.
- `finetune_records`: class folders (or list files) -> train / validation `Annotations`, with the seeded
  stratified split when there is no validation set.
- `finish_run`: OUT/labels.txt and OUT/model.keras (the best model on validation top-1, = best.keras).

The TFLite export after a fine-tuning run (`keras-gst train --data DIR --export int8`) is a step of the
`train` command, which calls into this module (the library never imports the CLI).
"""

import os
import shutil

FIRST_BN = "stem/bn"


def _all_layers(model):
    return model._flatten_layers(include_self=False, recursive=True)  # noqa: SLF001 (Keras' own traversal)


def freeze_batchnorm(model, keep=(FIRST_BN,)):
    """Freeze every `BatchNormalization` of `model` except those whose path is in `keep`: non-trainable, so
    they normalise with their moving statistics in training too (Keras 3). Returns the frozen layers' paths."""
    import keras

    frozen = []
    for layer in _all_layers(model):
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
    """Write OUT/labels.txt (class names, else the class indices) and OUT/model.keras: the best model on
    validation top-1 under a second name (a hard link to best.keras: one file on disk; a copy where the
    file system has no hard links). Both are written atomically. Returns their paths."""
    from keras_gst.atomic import atomic_path
    from keras_gst.data import write_labels

    labels = write_labels(os.path.join(output_dir, "labels.txt"),
                          result.class_names or [str(i) for i in range(result.num_classes)])
    model = os.path.join(output_dir, "model.keras")
    with atomic_path(model) as tmp:
        try:
            os.link(result.paths["best"], tmp)
        except OSError:
            shutil.copyfile(result.paths["best"], tmp)
    return {"labels": labels, "model": model}
