"""Evaluate a clip classifier on a dataset: single view or multi-view (views' logits averaged)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from keras_gst.errors import ModelFileError
from keras_gst.evaluation import metrics as M

if TYPE_CHECKING:
    import keras


def predict_scores(model: keras.Model | None, dataset: Iterable[tuple[ArrayLike, ArrayLike]], average: str = "logits",
                   max_batches: int | None = None, forward: Callable[[np.ndarray], ArrayLike] | None = None,
                   progress: Callable[[int], object] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, C), labels (N,)) over `dataset` of (clips, labels) batches (a `tf.data.Dataset` or any
    iterable of them), its first `max_batches` batches if given.

    clips: (B, T, H, W, 3) for one view, or (B, V, T, H, W, 3) for V views (clips x crops), which are
    run as one (B*V) batch and averaged per video: `average="logits"` (the authors' test script) or
    `"softmax"` (probabilities). `forward`, a function clips -> logits, replaces `model(clips)` (e.g. a
    .tflite file's, see `keras_gst.export.evaluate_model`; `model` then only names it in errors). `progress`,
    if given, is called with the number of videos of each batch once it is scored.

    Example:

    ```python
    import numpy as np

    from keras_gst.evaluation import predict_scores

    def forward(clips):  # stands in for a model: (N, T, H, W, 3) clips -> (N, 2) logits
        mean = clips.mean(axis=(1, 2, 3, 4))
        return np.stack([mean, 1 - mean], axis=1)

    clips = np.zeros((2, 3, 4, 8, 8, 3), np.float32)  # 2 videos x 3 views x 4 frames of 8x8
    clips[1] += np.arange(3).reshape(3, 1, 1, 1, 1)  # the views of video 1 have means 0, 1 and 2
    scores, labels = predict_scores(None, [(clips, np.array([0, 1]))], forward=forward)
    print(scores.tolist(), labels.tolist())  # [[0.0, 1.0], [1.0, 0.0]] [0, 1]
    ```
    """
    import keras

    if average not in ("logits", "softmax"):
        raise ValueError(f"average must be 'logits' or 'softmax'. Received: {average!r}")
    import tensorflow as tf

    if forward is None:
        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    all_scores, all_labels = [], []
    for i, (clips, labels) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        clips = np.asarray(clips)
        views = 1
        if clips.ndim == 6:
            b, views = clips.shape[:2]
            clips = clips.reshape((b * views,) + clips.shape[2:])
        logits = np.asarray(forward(clips), np.float64)
        if average == "softmax":
            logits = np.asarray(keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1)), np.float64)
        scores = logits.reshape((-1, views, logits.shape[-1])).mean(axis=1)
        all_scores.append(scores)
        all_labels.append(np.asarray(labels).reshape(-1))
        if progress is not None:
            progress(len(scores))
    if not all_scores:
        raise ValueError("the evaluation dataset is empty")
    scores = np.concatenate(all_scores)
    bad = int(np.sum(~np.isfinite(scores).all(axis=1)))
    if bad:  # a NaN score would turn into a meaningless accuracy
        raise ModelFileError(getattr(model, "path", getattr(model, "name", "the model")),
                             f"gives NaN or infinite scores for {bad} of {len(scores)} clips: its weights are not finite "
                             "(e.g. saved from a training run that diverged); use an earlier checkpoint")
    return scores, np.concatenate(all_labels).astype(np.int64)


def evaluate(model: keras.Model | None, dataset: Iterable[tuple[ArrayLike, ArrayLike]],
             class_names: Sequence[str] | None = None, output_dir: str | os.PathLike | None = None,
             average: str = "logits", max_batches: int | None = None, title: str | None = None,
             forward: Callable[[np.ndarray], ArrayLike] | None = None,
             progress: Callable[[int], object] | None = None) -> dict:
    """Top-1, top-5, mean class accuracy of `model` on `dataset`; with `output_dir`, also writes
    `confusion.png` (titled `title`), `confusion.csv`, `per_class.csv`, `metrics.json` and `scores.npz` there.
    `average`, `max_batches`, `forward` and `progress`: see `predict_scores`.

    Returns a dict: top1, top5, mean_class_accuracy, num_samples, confusion (array), per_class (rows).

    Example:

    ```python
    import os

    import numpy as np

    import keras_gst
    from keras_gst.evaluation import evaluate

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    clips = np.random.default_rng(0).uniform(0, 255, (4, 4, 32, 32, 3)).astype("float32")
    dataset = [(clips[:2], np.array([0, 1])), (clips[2:], np.array([1, 0]))]  # or a tf.data.Dataset
    result = evaluate(model, dataset, class_names=["jump", "run"], output_dir="eval")
    print(result["num_samples"], len(result["per_class"]))  # 4 2
    print(*sorted(os.listdir("eval")))  # confusion.csv confusion.png metrics.json per_class.csv scores.npz
    ```
    """
    scores, labels = predict_scores(model, dataset, average=average, max_batches=max_batches, forward=forward,
                                    progress=progress)
    num_classes = scores.shape[1]
    result = M.classification_metrics(scores, labels, num_classes)
    result["per_class"] = M.per_class_report(result["confusion"], class_names)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        M.write_confusion_csv(result["confusion"], os.path.join(output_dir, "confusion.csv"), class_names)
        M.write_report_csv(result["per_class"], os.path.join(output_dir, "per_class.csv"))
        M.plot_confusion(result["confusion"], os.path.join(output_dir, "confusion.png"), class_names,
                         title=title or f"{getattr(model, 'name', 'model')}: top-1 {result['top1']:.3f}")
        np.savez(os.path.join(output_dir, "scores.npz"), scores=scores, labels=labels)
        with open(os.path.join(output_dir, "metrics.json"), "w") as f:
            json.dump({k: result[k] for k in ("top1", "top5", "mean_class_accuracy", "num_samples")}, f, indent=2)
    return result


def format_report(result: dict, class_names: Sequence[str] | None = None, max_rows: int = 50) -> str:
    """A printable summary of an `evaluate` result: headline metrics and the per-class table (its first
    `max_rows` rows; without `class_names`, classes without clips are left out).

    Example:

    ```python
    from keras_gst.evaluation import classification_metrics, format_report, per_class_report

    result = classification_metrics([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], [2, 0])
    result["per_class"] = per_class_report(result["confusion"], ["jump", "run", "walk"])
    report = format_report(result, ["jump", "run", "walk"])
    print(report.splitlines()[0])  # clips: 2   top-1: 0.5000   top-5: 1.0000   mean class accuracy: 0.5000
    ```
    """
    lines = [
        f"clips: {result['num_samples']}   top-1: {result['top1']:.4f}   top-5: {result['top5']:.4f}   "
        f"mean class accuracy: {result['mean_class_accuracy']:.4f}",
        f"{'class':>5}  {'support':>7}  {'recall':>6}  {'precision':>9}  name",
    ]
    for row in result["per_class"][:max_rows]:
        if row["support"] == 0 and not class_names:
            continue
        lines.append(f"{row['class']:>5}  {row['support']:>7}  {_share(row['recall'], 6)}  "
                     f"{_share(row['precision'], 9)}  {row['name']}")
    if len(result["per_class"]) > max_rows:
        lines.append(f"... {len(result['per_class']) - max_rows} more classes in per_class.csv")
    return "\n".join(lines)


def _share(value: float, width: int) -> str:
    """A recall or precision for the table: "-" where it is undefined (a class with no clips, or never
    predicted), not "nan"."""
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.3f}"
