"""List files: the authors' / TSN / MMAction2 `path [offset] num_frames label` and `video label` lines."""

import os
import re
from collections.abc import Sequence

from keras_gst.data.annotations.records import Annotations, Collector, is_video_path, read_label_map, read_lines


def read_list_file(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    class_names: Sequence[str] | str | os.PathLike | None = None,
    num_classes: int | None = None,
    multi_label: bool = False,
    with_offset: bool = False,
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    r"""Generic list files; paths are relative to `root` (default: the list file's folder).

    Formats (tab-separated if the line has a tab, else whitespace):
      - authors' GST / TSN: ``path num_frames label`` (frame folder),
      - MMAction2 rawframes: ``frame_dir total_frames label`` (``with_offset``: ``frame_dir offset
        total_frames label``; ``multi_label``: several labels),
      - MMAction2 videos: ``video_path label [label ...]``, recognised by the file extension.
    `class_names` (list or label-map path) or `num_classes` bound the labels; without class names
    `Annotations.class_names` is empty.

    Example:

    ```python
    from keras_gst.data import read_list_file

    with open("train.txt", "w") as f:
        f.write("frames/a 30 0\nvideos/b.mp4 1\n")  # a frame folder of 30 frames, a video
    annotations = read_list_file("train.txt", root="data", class_names=["jump", "run"], check_files=False)
    print(annotations.records[0])  # VideoRecord(path='data/frames/a', num_frames=30, label=0, offset=0)
    print(annotations.records[1])  # VideoRecord(path='data/videos/b.mp4', num_frames=None, label=1, offset=0)
    ```
    """
    if isinstance(class_names, (str, os.PathLike)):
        class_names = read_label_map(class_names)
    if class_names is not None:
        num_classes = len(class_names)
    root = os.path.dirname(os.path.abspath(path)) if root is None else str(root)
    out = Collector(path, on_error, check_files, num_classes)
    for line_no, line in enumerate(read_lines(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = _split_list_line(line, with_offset, multi_label)
        source = os.path.join(root, parts[0])
        try:
            values = [int(p) for p in parts[1:]]
        except ValueError:
            out.bad(line_no, f"expected integers after the path, got {line!r}")
            continue
        offset, num_frames = 0, None
        if is_video_path(parts[0]):
            labels = values
        else:
            head = 2 if with_offset else 1
            if len(values) < head + 1:
                out.bad(line_no, f"expected 'path {'offset ' if with_offset else ''}num_frames label', got {line!r}")
                continue
            if with_offset:
                offset = values[0]
            num_frames, labels = values[head - 1], values[head:]
        if not labels:
            out.bad(line_no, f"no label in {line!r}")
            continue
        if len(labels) > 1 and not multi_label:
            out.bad(line_no, f"{len(labels)} labels in {line!r}; pass multi_label=True (or with_offset=True)")
            continue
        label = tuple(labels) if multi_label else labels[0]
        out.add(line_no, source, num_frames, label, offset)
    return out.result(class_names or [])


def _split_list_line(line, with_offset, multi_label):
    """[path, integers...] of a list-file line. A path may hold spaces: with tabs the fields are the
    tab-separated parts; else, when a non-integer follows the first field, the format's integers are
    taken from the right (a video: 1 label; a frame folder: [offset] num_frames label) and the rest is
    the path."""
    if "\t" in line:
        return [p.strip() for p in line.split("\t")]
    parts = line.split()
    if multi_label or len(parts) < 2:
        return parts

    def expected(path):
        return 1 if is_video_path(path) else (3 if with_offset else 2)

    def integers(fields):
        return all(re.fullmatch(r"-?\d+", f) for f in fields)

    if integers(parts[1:]):  # all integers after the first field: a path without spaces (or ambiguous)
        return parts
    for count in (1, 3 if with_offset else 2):
        fields = line.strip().rsplit(None, count)
        if len(fields) == count + 1 and integers(fields[1:]) and expected(fields[0]) == count:
            return fields
    return parts
