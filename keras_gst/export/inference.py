"""The predict and eval workflows over any model file (.keras, keras-hub preset, .tflite, SavedModel).

    from keras_gst.export import evaluate_model, predict

    result = predict("model.keras", "video.mp4", top_k=3)          # a `Prediction`
    print(result.topk[0]["label"], result.topk[0]["probability"])

Every argument is checked before a model or video is loaded (`keras_gst.checks.check_predict_args`,
`check_eval_args`): a bad value raises `keras_gst.errors.ParameterError` whose `param` is the keyword
argument, a missing file `DataFileError` / `ModelFileError`. A `.keras` model or preset runs as one
graph with its weights as constants and BatchNorm folded (`keras_gst.export.frozen_function`), a
SavedModel's serving function is frozen the same way after its ops passed `check_savedmodel`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_gst.checks import check_eval_args, check_model_path, check_predict_args
from keras_gst.errors import DataFileError, ModelFileError, ParameterError
from keras_gst.export.predictor import Predictor, load_predictor, read_labels, top_k as rank_classes

if TYPE_CHECKING:
    from keras_gst.data.annotations import Annotations, VideoRecord


@dataclasses.dataclass
class Prediction:
    """One video's result: `topk` [{rank, index, label, probability, logit}], best first; `logits` (C,)
    averaged over `views` = clips x crops; `timing` (ms: decode, preprocess, model, first call) or None.

    Example:

    ```python
    import numpy as np
    from keras_gst.export import Prediction

    best = {"rank": 1, "index": 1, "label": "right", "probability": 0.9, "logit": 2.0}
    result = Prediction("v.mp4", "m.keras", "keras", 8, 224, 1, [best], np.array([-0.2, 2.0]))
    print(result.topk[0]["label"], result.timing)  # right None
    ```
    """

    video: str
    model: str
    format: str
    num_frames: int
    size: int
    views: int
    topk: list
    logits: np.ndarray = dataclasses.field(repr=False)
    timing: dict | None = None


def open_model(model, num_frames=None, size=None, num_threads=2, trust_savedmodel=False):
    """A `Predictor` for a model path (a Predictor is returned as it is)."""
    if isinstance(model, Predictor):
        return model
    check_model_path(model)
    return load_predictor(model, num_frames, size, num_threads=num_threads, trust_savedmodel=trust_savedmodel)


def class_names_for(predictor, labels):
    """Class names: `labels` (a list or a file), else a preset's labels.txt, else None; the count must
    be the model's class count."""
    if labels is None:
        path = os.path.join(predictor.path, "labels.txt")
        labels = path if predictor.kind == "preset" and os.path.isfile(path) else None
    if labels is None:
        return None
    names = read_labels(labels) if isinstance(labels, (str, os.PathLike)) else list(labels)
    if len(names) != predictor.num_classes:
        raise ParameterError("labels", f"{len(names)} names{f' in {labels}' if isinstance(labels, str) else ''}, the "
                                       f"model has {predictor.num_classes} classes: pass the names it was trained with")
    return names


def predict(model: str | os.PathLike | Predictor, video: str | os.PathLike,
            labels: Sequence[str] | str | os.PathLike | None = None, top_k: int = 5, num_frames: int | None = None,
            size: int | None = None, num_clips: int = 1, num_crops: int = 1, timing: bool = False, runs: int = 5,
            num_threads: int = 2, trust_savedmodel: bool = False) -> Prediction:
    """Top-k classes of one video or frame folder (see `Prediction`).

    Args:
        model: a model path (see `load_predictor`) or a `Predictor` (to classify many videos with one load).
        video: a video file or a frame folder.
        labels: class names (list or file, one per line); default a preset's labels.txt, else indices.
        num_frames, size: T and crop size where the model leaves them open (default 8, 224).
        num_clips, num_crops: multi-view test (logits averaged, as `evaluate_model`).
        timing: time decode, preprocessing and the model (median of `runs` warm passes), one view only.
        trust_savedmodel: run a SavedModel without checking its ops (see `check_savedmodel`).

    Example:

    ```python
    import keras_gst
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.export import predict

    write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("m.keras")
    result = predict("m.keras", "synthetic/videos/c0_train_0000.mp4", labels=["left", "right"], top_k=2)
    print(result.format, result.num_frames, result.size, sorted(c["label"] for c in result.topk))  # keras 4 32 ['left', 'right']
    print(round(sum(c["probability"] for c in result.topk), 3))  # 1.0
    ```
    """
    check_predict_args(model, video, labels, top_k, num_frames, size, num_clips, num_crops, timing, runs, num_threads)
    predictor = open_model(model, num_frames, size, num_threads, trust_savedmodel)
    names = class_names_for(predictor, labels)
    views = num_clips * num_crops
    measured = None
    try:
        if views > 1:
            logits = _multi_view_logits(predictor, os.fspath(video), num_clips, num_crops)
        else:
            logits, measured = _single_view(predictor, os.fspath(video), timing, runs)
    except _read_errors() as e:
        cause = str(e.__cause__ or "").strip()  # the decoder's own error, not load_clip's "cannot read X: ..."
        reason = (cause or str(e).strip()).splitlines()[0]
        raise DataFileError(video, f"cannot read it: {reason}", "video") from None
    if not np.all(np.isfinite(logits)):
        raise ModelFileError(predictor.path, f"gives NaN or infinite scores for {video}: its weights are not finite "
                                             "(e.g. saved from a training run that diverged); use an earlier checkpoint")
    return Prediction(os.fspath(video), predictor.path, predictor.kind, predictor.num_frames, predictor.size, views,
                      rank_classes(logits, min(top_k, predictor.num_classes), names), logits, measured)


def _read_errors():
    """What decoding a video raises: our ClipReadError, OS errors, tf.data's errors (multi-view)."""
    import tensorflow as tf

    from keras_gst.export.clips import ClipReadError

    return ClipReadError, OSError, tf.errors.OpError


def _single_view(predictor, video, timing, runs):
    from keras_gst.export.clips import load_clip

    first = {}
    clip = load_clip(video, predictor.num_frames, predictor.size, timings=first)
    start = time.perf_counter()
    logits = predictor.logits(clip[None])[0]
    first["model"] = time.perf_counter() - start
    if not timing:
        return logits, None
    passes = []
    for _ in range(runs):  # warm passes: the first paid for TF / interpreter start-up
        warm = {}
        load_clip(video, predictor.num_frames, predictor.size, timings=warm)
        start = time.perf_counter()
        predictor.logits(clip[None])
        passes.append((warm["decode"], warm["preprocess"], time.perf_counter() - start))
    decode_s, preprocess_s, model_s = np.median(np.asarray(passes), axis=0)
    return logits, {"decode_ms": 1e3 * decode_s, "preprocess_ms": 1e3 * preprocess_s, "model_ms": 1e3 * model_s,
                    "runs": len(passes), "first_call_ms": {k: 1e3 * first[k] for k in ("decode", "preprocess", "model")}}


def _pixel_dataset(predictor, records, views, **options):
    """The evaluation pipeline at the model's T and size with pixels kept in [0, 255] (`Predictor.logits`
    normalises for its file); `views`: `DataSpec` fields (scale_size None: `scale_size_for` the size),
    `options`: `build_dataset` keywords."""
    from keras_gst.data import DataSpec, build_dataset
    from keras_gst.export.clips import scale_size_for

    views = dict(views, scale_size=views.get("scale_size") or scale_size_for(predictor.size))
    spec = DataSpec(num_frames=predictor.num_frames, crop_size=predictor.size, **views)
    return build_dataset(records, spec, normalize=False, **options)


def _multi_view_logits(predictor, video, num_clips, num_crops):
    """Averaged logits of num_clips x num_crops views of one video, through eval's pipeline and averaging."""
    from keras_gst.data import VideoRecord
    from keras_gst.evaluation import predict_scores

    ds = _pixel_dataset(predictor, [VideoRecord(video, None, 0)],
                        dict(template="auto", num_clips=num_clips, num_crops=num_crops, on_error="raise"), batch_size=1)
    scores, _ = predict_scores(predictor, ds, forward=predictor.logits)
    return scores[0]


def _labelled(annotations, class_names):
    """The records with a label, (records, number unlabeled); refuses lists with none."""
    records = list(getattr(annotations, "records", annotations))
    if not records:
        raise ParameterError("annotations", "no readable entries to evaluate")
    if any(isinstance(r.label, tuple) for r in records):
        raise ParameterError("annotations", "multi-label entries: eval scores single-label lists")
    kept = [r for r in records if r.label != -1]
    if not kept:
        raise ParameterError("annotations", f"all {len(records)} entries are unlabeled (label -1): eval needs labels; "
                                            "classify unlabeled videos with `keras-gst predict`")
    if class_names is not None:
        top = max(r.label for r in kept)
        if top >= len(class_names):
            raise ParameterError("annotations", f"label {top} is out of range for the {len(class_names)} class names")
    return kept, len(records) - len(kept)


@dataclasses.dataclass
class EvalResult:
    """Metrics of `evaluate_model`: top1, top5, mean class accuracy over `num_samples` clips, the
    confusion matrix and per-class rows; `unlabeled` entries were left out.

    Example:

    ```python
    import numpy as np
    from keras_gst.export import EvalResult

    result = EvalResult("m.keras", 1, 0.5, 1.0, 0.5, 4, 0, np.array([[1, 1], [1, 1]]), [])
    print(result.headline()["top1"], result.headline()["num_samples"])  # 0.5 4
    ```
    """

    model: str
    views: int
    top1: float
    top5: float
    mean_class_accuracy: float
    num_samples: int
    unlabeled: int
    confusion: np.ndarray = dataclasses.field(repr=False)
    per_class: list = dataclasses.field(repr=False)

    def headline(self):
        return {"top1": self.top1, "top5": self.top5, "mean_class_accuracy": self.mean_class_accuracy,
                "num_samples": self.num_samples, "views": self.views, "unlabeled": self.unlabeled}


def evaluate_model(model: str | os.PathLike | Predictor, annotations: Annotations | Sequence[VideoRecord],
                   class_names: Sequence[str] | None = None, num_frames: int | None = None, size: int | None = None,
                   scale_size: int | None = None, sampling: str = "segment", num_clips: int = 1, num_crops: int = 1,
                   average: str = "logits", batch_size: int = 4, max_batches: int | None = None,
                   output_dir: str | os.PathLike | None = None, template: str = "auto", on_error: str = "skip",
                   num_threads: int = 2, trust_savedmodel: bool = False,
                   progress: Callable[[int], None] | None = None) -> EvalResult:
    """Top-1 / top-5 / mean class accuracy of a model file on annotated videos (an `EvalResult`).

    Args:
        model: a model path (see `load_predictor`) or a `Predictor`.
        annotations: a `keras_gst.data.Annotations` or a list of `VideoRecord`s; unlabeled entries
            (label -1) are left out and counted, a list with no label is refused.
        class_names: names in class-index order (their count must be the model's), or None.
        num_frames, size, scale_size, sampling, num_clips, num_crops, average: the test views (as
            `keras_gst.data.build_dataset`, averaged per video as `keras_gst.evaluation.predict_scores`).
        output_dir: also write the confusion matrix, per-class report, metrics.json and scores.npz there.
        progress: None or a function called with the number of videos after each batch.

    Example:

    ```python
    import keras_gst
    from keras_gst.data import read_list_file, write_synthetic_dataset
    from keras_gst.export import evaluate_model

    _, val_list, classes = write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("m.keras")
    result = evaluate_model("m.keras", read_list_file(val_list), classes, batch_size=2)
    print(result.num_samples, result.top5, result.confusion.sum())  # 2 1.0 2
    ```
    """
    from keras_gst.evaluation import evaluate

    check_eval_args(model, num_frames, size, scale_size, num_clips, num_crops, average, batch_size, max_batches,
                    output_dir, num_threads)
    records, unlabeled = _labelled(annotations, class_names)
    predictor = open_model(model, num_frames, size, num_threads, trust_savedmodel)
    if class_names is not None and len(class_names) != predictor.num_classes:
        raise ParameterError("class_names", f"{len(class_names)} class names, the model {predictor.path} has "
                                            f"{predictor.num_classes} classes: pass the class file it was trained with")
    top = max(r.label for r in records)
    if top >= predictor.num_classes:
        raise ParameterError("annotations", f"label {top} is out of range for the model's {predictor.num_classes} classes")
    views = dict(template=template, sampling=sampling, num_clips=num_clips, num_crops=num_crops, on_error=on_error,
                 scale_size=scale_size)
    ds = _pixel_dataset(predictor, records, views, batch_size=batch_size, num_classes=predictor.num_classes)
    result = evaluate(predictor, ds, class_names, output_dir, average=average, max_batches=max_batches,
                      forward=predictor.logits, progress=progress)
    return EvalResult(predictor.path, num_clips * num_crops, result["top1"], result["top5"],
                      result["mean_class_accuracy"], result["num_samples"], unlabeled, result["confusion"],
                      result["per_class"])
