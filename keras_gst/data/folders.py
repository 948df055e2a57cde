"""Class folders: ``DIR/<class name>/<video files>``, the layout of `keras.utils.image_dataset_from_directory`.

Class names are the sorted subfolder names, label i = the i-th name. Videos are found recursively in each
class folder (by extension, `annotations.VIDEO_EXTENSIONS`); hidden files and folders (``.DS_Store``,
``.git``) are ignored. A class folder without videos and fewer than two classes are errors naming the
path. Other files follow the data layer's `on_error`: ``"raise"`` stops with an `AnnotationError` naming
the file, ``"skip"`` logs a warning and counts it in `Annotations.skipped`. Unreadable videos are found
when the pipeline decodes them (`build_dataset(on_error=...)`, `SkipLog`).

`split_annotations` makes a seeded, stratified train/validation split; `write_labels` writes
``labels.txt`` (one class name a line, in label order), which `read_label_map` and `keras-gst predict
--labels` read back.
"""

import logging
import os
from collections.abc import Sequence

import numpy as np

from keras_gst.data.annotations import AnnotationError, Annotations, VideoRecord, is_video_path

logger = logging.getLogger(__name__)


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def read_class_folders(directory: str | os.PathLike, *, on_error: str = "raise") -> Annotations:
    """Read ``directory/<class>/**/<video>`` into `Annotations` (labels = index of the sorted class names).

    Raises `FileNotFoundError` (no such directory), `AnnotationError` (fewer than two class folders, a
    class folder without videos, a file that is not a video with ``on_error="raise"``).

    Example:

    ```python
    import os

    from keras_gst.data import read_class_folders

    for name in ("jump/a.mp4", "jump/b.mp4", "run/c.mp4"):
        os.makedirs(os.path.dirname(os.path.join("videos", name)), exist_ok=True)
        open(os.path.join("videos", name), "wb").close()  # listed by name only: not decoded here
    annotations = read_class_folders("videos")
    print(annotations.class_names, [r.label for r in annotations])  # ['jump', 'run'] [0, 0, 1]
    ```
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'. Received: on_error={on_error!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"class folder directory not found: {directory}")
    entries = _visible(os.listdir(directory))
    class_names = [n for n in entries if os.path.isdir(os.path.join(directory, n))]
    stray = [os.path.join(directory, n) for n in entries if n not in class_names]
    if len(class_names) < 2:
        found = f"only {class_names[0]!r}" if class_names else "none"
        raise AnnotationError(
            f"{directory}: a classifier needs at least 2 class folders (one subfolder per class holding its "
            f"videos); found {found}"
        )
    records, skipped = [], []

    def bad(path, reason):
        message = f"{path}: {reason}"
        if on_error == "raise":
            raise AnnotationError(message + " (pass on_error='skip' / --on-error skip to skip such files)")
        logger.warning("skipping %s", message)
        skipped.append(message)

    for path in stray:
        bad(path, "a file beside the class folders (each class is a subfolder of videos)")
    for label, name in enumerate(class_names):
        folder = os.path.join(directory, name)
        found = 0
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = _visible(dirnames)
            for filename in _visible(filenames):
                path = os.path.join(dirpath, filename)
                if not is_video_path(filename):
                    bad(path, "not a video file (by its extension)")
                else:
                    records.append(VideoRecord(path, None, label))
                    found += 1
        if not found:
            raise AnnotationError(f"class folder {folder} holds no video files: add videos or remove the folder")
    if skipped:
        logger.warning("%s: skipped %d files that are not videos", directory, len(skipped))
    return Annotations(records, class_names, skipped)


def split_annotations(annotations: Annotations, val_split: float = 0.2,
                      seed: int = 0) -> tuple[Annotations, Annotations]:
    """A seeded, stratified split of `annotations` into (train, val) `Annotations`.

    Each class keeps ``round(n * val_split)`` of its n clips for validation, at least 1 when n >= 2
    and never all of them (a class with one clip stays in training). Raises `ValueError` when the
    split leaves no validation clip at all.

    Example:

    ```python
    from keras_gst.data import Annotations, VideoRecord, split_annotations

    records = [VideoRecord(f"{name}{i}.mp4", None, label) for label, name in enumerate(["jump", "run"])
               for i in range(5)]
    train, val = split_annotations(Annotations(records, ["jump", "run"]), val_split=0.2, seed=0)
    print(len(train), len(val), sorted(r.label for r in val))  # 8 2 [0, 1]
    ```
    """
    if not 0.0 < val_split < 1.0:
        raise ValueError(f"val_split must be in (0, 1). Received: val_split={val_split}")
    rng = np.random.default_rng(seed)
    by_class = {}
    for record in annotations.records:
        by_class.setdefault(record.label, []).append(record)
    train, val = [], []
    for label in sorted(by_class):
        items = by_class[label]
        order = rng.permutation(len(items))
        n_val = 0 if len(items) < 2 else min(len(items) - 1, max(1, int(round(len(items) * val_split))))
        val += [items[i] for i in order[:n_val]]
        train += [items[i] for i in order[n_val:]]
    if not val:
        raise ValueError(f"val_split={val_split} leaves no validation clip: every class has a single clip")
    names = list(annotations.class_names)
    return Annotations(train, names, list(annotations.skipped)), Annotations(val, names, [])


def check_label_range(annotations: Annotations, num_classes: int, source: str) -> None:
    """`AnnotationError` naming `source` and the first records whose label is outside [0, num_classes)
    (-1, unlabelled, is not checked).

    Example:

    ```python
    from keras_gst.data import AnnotationError, Annotations, VideoRecord, check_label_range

    annotations = Annotations([VideoRecord("a.mp4", None, 0), VideoRecord("b.mp4", None, 5)], [])
    check_label_range(annotations, num_classes=6, source="val.txt")  # labels 0 and 5 are in range
    try:
        check_label_range(annotations, num_classes=2, source="val.txt")
    except AnnotationError as e:
        print(e)  # val.txt: 1 labels are beyond the 2 classes: b.mp4 (label 5)
    ```
    """
    bad = [r for r in annotations.records for v in (r.label if isinstance(r.label, tuple) else (r.label,))
           if v != -1 and not 0 <= v < num_classes]
    if bad:
        listed = ", ".join(f"{r.path} (label {r.label})" for r in bad[:5])
        raise AnnotationError(f"{source}: {len(bad)} labels are beyond the {num_classes} classes: {listed}"
                              + (", ..." if len(bad) > 5 else ""))


def require_labels(annotations: Annotations, source: str) -> None:
    """`AnnotationError` if a record has label -1 (unlabelled, e.g. a test split, or a list written by
    `keras-gst extract-frames` without --labels): training and validation need a label for every clip.

    Example:

    ```python
    from keras_gst.data import AnnotationError, Annotations, VideoRecord, require_labels

    annotations = Annotations([VideoRecord("a.mp4", None, 0), VideoRecord("b.mp4", None, -1)], ["jump", "run"])
    try:
        require_labels(annotations, "train.txt")
    except AnnotationError as e:
        print(str(e).split(";")[0])  # train.txt: 1 entries have label -1 (no label), e.g. b.mp4
    ```
    """
    bad = [r.path for r in annotations.records
           if -1 in (r.label if isinstance(r.label, tuple) else (r.label,))]
    if bad:
        where = list(getattr(annotations, "unlabelled", None) or bad)
        raise AnnotationError(
            f"{source}: {len(bad)} entries have label -1 (no label), e.g. {where[0]}; training and validation need "
            f"a label for every clip: fill in the labels (`keras-gst extract-frames --labels LIST` writes them) or "
            f"remove those lines")


def write_labels(path: str | os.PathLike, class_names: Sequence[str]) -> str | os.PathLike:
    """Write one class name a line, in label order (`read_label_map` reads it back); returns `path`.

    Example:

    ```python
    from keras_gst.data import read_label_map, write_labels

    write_labels("labels.txt", ["jump", "run"])
    print(read_label_map("labels.txt"))  # ['jump', 'run']
    ```
    """
    names = [str(n) for n in class_names]
    if any("\n" in n or not n.strip() for n in names):
        raise ValueError(f"class names must be non-empty single lines. Received: {names}")
    from keras_gst.atomic import write_text

    return write_text(path, "\n".join(names) + "\n")
