"""The records and helpers every annotation reader shares: `VideoRecord`, `Annotations`, `AnnotationError`,
the `Collector` that routes bad entries to an error or a counted skip, text / JSON reading (a UTF-8
byte-order mark is dropped) and frame counting (`count_frames_in_folder`, which refuses numbering gaps).
"""

import dataclasses
import json
import logging
import os
import re
import string

from keras_gst.errors import DataFileError

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One sample: `path` (video file or frame folder), `num_frames` (None = unknown), `label`.

    `label` is an int (-1 = unlabeled) or a tuple of ints (multi-label). `offset` is the 0-based index
    of the segment's first frame inside the source.

    Example:

    ```python
    from keras_gst.data import VideoRecord

    record = VideoRecord("frames/P01_01", num_frames=30, label=3, offset=10)  # frames 10..39 of P01_01
    print(record.is_video)  # False
    print(VideoRecord("videos/a.mp4", None, 0).is_video)  # True
    ```
    """

    path: str
    num_frames: int | None
    label: int | tuple[int, ...]
    offset: int = 0

    @property
    def is_video(self):
        return is_video_path(self.path)


@dataclasses.dataclass
class Annotations:
    """What a reader returns: records, class names and the entries skipped with ``on_error="skip"``
    (one message each); iterating it iterates the records.

    Example:

    ```python
    from keras_gst.data import Annotations, VideoRecord

    annotations = Annotations([VideoRecord("a.mp4", None, 0), VideoRecord("b.mp4", None, 1)], ["jump", "run"])
    print(len(annotations), [annotations.class_names[r.label] for r in annotations])  # 2 ['jump', 'run']
    ```
    """

    records: list[VideoRecord]
    class_names: list[str]
    skipped: list[str] = dataclasses.field(default_factory=list)
    unlabelled: list[str] = dataclasses.field(default_factory=list)  # "file, line N: path" of the label -1 entries

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)


class AnnotationError(ValueError):
    """A bad annotation entry; the message names the file and line.

    Example:

    ```python
    from keras_gst.data import AnnotationError, read_list_file

    with open("train.txt", "w") as f:
        f.write("a.mp4 zero")
    try:
        read_list_file("train.txt", check_files=False)
    except AnnotationError as e:
        print(str(e).startswith("train.txt, line 1: expected integers after the path"))  # True
    ```
    """


def is_video_path(path: str | os.PathLike) -> bool:
    """Whether `path` names a video file, by its extension (`VIDEO_EXTENSIONS`, any case).

    Example:

    ```python
    from keras_gst.data.annotations import is_video_path

    print(is_video_path("clips/A.MP4"), is_video_path("frames/a"))  # True False
    ```
    """
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


class Collector:
    """Collects records; routes bad entries to an error or a logged, counted skip."""

    def __init__(self, source_file, on_error, check_files, num_classes):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip'. Received: on_error={on_error!r}")
        self.source_file = str(source_file)
        self.on_error = on_error
        self.check_files = check_files
        self.num_classes = num_classes
        self.records = []
        self.skipped = []
        self.unlabelled = []

    def where(self, line_no):
        if isinstance(line_no, int):
            return f"{self.source_file}, line {line_no}"
        return f"{self.source_file}, {line_no}" if line_no else self.source_file  # JSON: "entry i"

    def bad(self, line_no, reason):
        message = f"{self.where(line_no)}: {reason}"
        if self.on_error == "raise":
            raise AnnotationError(message + " (pass on_error='skip' to skip such entries)")
        logger.warning("skipping annotation entry: %s", message)
        self.skipped.append(message)

    def add(self, line_no, path, num_frames, label, offset=0):
        labels = label if isinstance(label, tuple) else (label,)
        if any(value < -1 for value in labels):  # before: eval reached the metrics and ended in a traceback
            return self.bad(line_no, f"label {min(labels)} is negative (-1 marks an unlabeled clip)")
        if self.num_classes is not None:
            for value in labels:
                if value != -1 and not 0 <= value < self.num_classes:
                    return self.bad(line_no, f"label {value} is out of range [0, {self.num_classes})")
        if num_frames is not None and num_frames <= 0:
            return self.bad(line_no, f"{path} has {num_frames} frames")
        if self.check_files and not os.path.exists(path):
            return self.bad(line_no, f"source not found: {path}")
        if -1 in labels:
            self.unlabelled.append(f"{self.where(line_no)}: {path}")
        self.records.append(VideoRecord(str(path), num_frames, label, offset))

    def frame_count(self, line_no, folder, template, start_index):
        """The frames present in `folder`, or None (a gap: a bad entry, raised or skipped)."""
        try:
            return count_frames_in_folder(folder, template, start_index)
        except FrameGapError as e:
            return self.bad(line_no, str(e))

    def result(self, class_names):
        if self.skipped:
            logger.warning("%s: skipped %d bad entries", self.source_file, len(self.skipped))
        return Annotations(self.records, list(class_names), self.skipped, self.unlabelled)


def open_text(path):
    """`path` opened for reading text (UTF-8, a leading byte-order mark dropped, newlines kept for `csv`);
    `FileNotFoundError` naming it if it is not a file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    return open(path, encoding="utf-8-sig", newline="")


def read_lines(path):
    """The lines of a text file without their line ends (and without a UTF-8 byte-order mark)."""
    with open_text(path) as f:
        return [line.rstrip("\r\n") for line in f]


_JSON_TYPES = {list: "list", dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}


def load_json(path, expected, what):
    """The JSON value of `path`, which must be of type `expected` (list or dict); else an
    `AnnotationError` naming the file, what it should hold (`what`) and what it holds."""
    with open_text(path) as f:
        try:
            value = json.load(f)
        except json.JSONDecodeError as e:
            raise AnnotationError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(value, expected):
        found = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
        raise AnnotationError(f"{path}: expected a JSON {_JSON_TYPES[expected]} of {what}, the file holds a "
                              f"JSON {found}; is it the right file?")
    return value


class FrameGapError(DataFileError):
    """A frame folder whose numbering has a gap: a frame is missing before later frames.

    Example:

    ```python
    import os

    from keras_gst.data.annotations import FrameGapError, count_frames_in_folder

    os.makedirs("frames/a")
    for name in ("00001.jpg", "00002.jpg", "00004.jpg"):
        open(os.path.join("frames/a", name), "wb").close()
    try:
        count_frames_in_folder("frames/a")
    except FrameGapError as e:
        print(e.path)  # frames/a
    ```
    """


def _template_pattern(template):
    """A regex matching the file names of `template` (e.g. ``{:05d}.jpg``), its number as group 1."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(r"(\d+)")
    return re.compile("".join(parts) + r"\Z")


def count_frames_in_folder(folder: str | os.PathLike, template: str = "{:05d}.jpg", start_index: int = 1) -> int:
    """Number of frames `template.format(start_index + i)`, i = 0, 1, ..., present in `folder`.

    A gap in the numbering (``00004.jpg`` missing while ``00005.jpg`` ... exist: a deleted or lost
    file, never what an extractor writes) is a `FrameGapError` naming the folder and the missing frame:
    counting up to the gap would silently drop the later frames, and reading around it would shift
    every later frame (and every segment offset) in time.

    Example:

    ```python
    import os

    from keras_gst.data.annotations import count_frames_in_folder

    os.makedirs("frames/a")
    for i in range(1, 6):
        open(os.path.join("frames/a", f"img_{i:05d}.jpg"), "wb").close()
    print(count_frames_in_folder("frames/a", "img_{:05d}.jpg"))  # 5
    ```
    """
    names = set(os.listdir(folder))
    n = 0
    while template.format(start_index + n) in names:
        n += 1
    pattern = _template_pattern(template)
    later = sorted(int(m.group(1)) for m in map(pattern.match, names)
                   if m and int(m.group(1)) > start_index + n and template.format(int(m.group(1))) == m.group(0))
    if later:
        first, last = template.format(later[0]), template.format(later[-1])
        raise FrameGapError(folder, f"frame {template.format(start_index + n)} is missing, but {len(later)} later "
                                    f"frames are present ({first} to {last}); "
                                    "re-extract the folder (`keras-gst extract-frames`) or remove the clip from "
                                    "the list")
    return n


def read_label_map(path: str | os.PathLike) -> list[str]:
    r"""One class name per line (MMAction2 `label_map.txt`, SSv1 labels CSV, Kinetics); blank lines and
    the lines' outer spaces are dropped. An `AnnotationError` for a file without any name (before: every
    label of the split was then "out of range [0, 0)").

    Example:

    ```python
    from keras_gst.data import read_label_map

    with open("labels.txt", "w") as f:
        f.write("jump\nrun\n")  # one name a line
    print(read_label_map("labels.txt"))  # ['jump', 'run']
    ```
    """
    names = [line.strip() for line in read_lines(path) if line.strip()]
    if not names:
        raise AnnotationError(f"{path}: holds no class names (expected one name a line, in class-index order)")
    return names


def names_to_index(class_names):
    return {name: i for i, name in enumerate(class_names)}
