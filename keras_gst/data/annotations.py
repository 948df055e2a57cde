"""Annotation readers: every dataset format becomes a list of `VideoRecord`s plus class names.

A record names its source (a video file or a frame folder), how many frames it has if that is known
(frame folders, list files; `None` for videos, whose container counts are not trusted), its label(s) and
the 0-based frame offset of the segment inside the source (EPIC-KITCHENS, Diving48).

Every reader takes `on_error`: ``"raise"`` (default) stops at the first bad entry with a message naming
the annotation file and line; ``"skip"`` logs each bad entry and counts it in `Annotations.skipped`.
With ``check_files=True`` (default) a source that does not exist is a bad entry.
"""

import csv
import dataclasses
import json
import logging
import os
import re

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")

# Left/right class pairs of Something-Something V2 (MMAction2's sthv2 flip map, the authors' code).
SSV2_FLIP_PAIRS = ((86, 87), (93, 94), (166, 167))
# Something-Something V1 (MMAction2's sthv1 flip map).
SSV1_FLIP_PAIRS = ((2, 4), (30, 41), (52, 66))


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One sample: `path` (video file or frame folder), `num_frames` (None = unknown), `label`.

    `label` is an int (-1 = unlabeled) or a tuple of ints (multi-label). `offset` is the 0-based index
    of the segment's first frame inside the source.
    """

    path: str
    num_frames: int | None
    label: int | tuple
    offset: int = 0

    @property
    def is_video(self):
        return is_video_path(self.path)


@dataclasses.dataclass
class Annotations:
    """What a reader returns: records, class names and the entries skipped with ``on_error="skip"``."""

    records: list
    class_names: list
    skipped: list = dataclasses.field(default_factory=list)
    unlabelled: list = dataclasses.field(default_factory=list)  # "file, line N: path" of the label -1 entries

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)


class AnnotationError(ValueError):
    """A bad annotation entry; the message names the file and line."""


def is_video_path(path):
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


class _Collector:
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

    def result(self, class_names):
        if self.skipped:
            logger.warning("%s: skipped %d bad entries", self.source_file, len(self.skipped))
        return Annotations(self.records, list(class_names), self.skipped, self.unlabelled)


def _read_lines(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


def _load_json(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise AnnotationError(f"{path}: invalid JSON ({e})") from None


def count_frames_in_folder(folder, template="{:05d}.jpg", start_index=1):
    """Number of consecutive frames `template.format(start_index + i)` present in `folder`."""
    names = set(os.listdir(folder))
    n = 0
    while template.format(start_index + n) in names:
        n += 1
    return n


def read_label_map(path):
    """One class name per line (MMAction2 `label_map.txt`, SSv1 labels CSV, Kinetics)."""
    return [line.strip() for line in _read_lines(path) if line.strip()]


def read_list_file(
    path,
    root=None,
    *,
    class_names=None,
    num_classes=None,
    multi_label=False,
    with_offset=False,
    on_error="raise",
    check_files=True,
):
    """Generic list files; paths are relative to `root` (default: the list file's folder).

    Formats (tab-separated if the line has a tab, else whitespace):
      - authors' GST / TSN: ``path num_frames label`` (frame folder),
      - MMAction2 rawframes: ``frame_dir total_frames label`` (``with_offset``: ``frame_dir offset
        total_frames label``; ``multi_label``: several labels),
      - MMAction2 videos: ``video_path label [label ...]``, recognised by the file extension.
    `class_names` (list or label-map path) or `num_classes` bound the labels; without class names
    `Annotations.class_names` is empty.
    """
    if isinstance(class_names, (str, os.PathLike)):
        class_names = read_label_map(class_names)
    if class_names is not None:
        num_classes = len(class_names)
    root = os.path.dirname(os.path.abspath(path)) if root is None else str(root)
    out = _Collector(path, on_error, check_files, num_classes)
    for line_no, line in enumerate(_read_lines(path), 1):
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


def _names_to_index(class_names):
    return {name: i for i, name in enumerate(class_names)}


def read_sthv1(
    split_csv,
    labels_csv,
    frames_root,
    *,
    template="{:05d}.jpg",
    start_index=1,
    count_frames=True,
    on_error="raise",
    check_files=True,
):
    """Something-Something V1: ``id;label name`` CSV (test: ids only) + 174 label names, frame folders
    ``frames_root/<id>/00001.jpg``. `count_frames` lists each folder to get the true frame count."""
    class_names = read_label_map(labels_csv)
    index = _names_to_index(class_names)
    out = _Collector(split_csv, on_error, check_files, len(class_names))
    for line_no, line in enumerate(_read_lines(split_csv), 1):
        if not line.strip():
            continue
        video_id, _, name = line.partition(";")
        label = -1
        if name:
            if name not in index:
                out.bad(line_no, f"unknown class name {name!r} (not in {labels_csv})")
                continue
            label = index[name]
        folder = os.path.join(frames_root, video_id.strip())
        num_frames = None
        if count_frames and os.path.isdir(folder):
            num_frames = count_frames_in_folder(folder, template, start_index)
        out.add(line_no, folder, num_frames, label)
    return out.result(class_names)


def ssv2_class_name(template):
    """SSv2 entry template -> class name: 'Putting [something] onto [something]' -> '... something'."""
    return template.replace("[", "").replace("]", "")


def read_sthv2(
    split_json,
    labels_json,
    root,
    *,
    source="videos",
    extension=".webm",
    template="{:04d}.jpg",
    start_index=1,
    count_frames=True,
    on_error="raise",
    check_files=True,
):
    """Something-Something V2: split JSON (``id``, ``template``, ...; test split: ``id`` only) and the
    labels JSON ``{name: "index"}``. `source`: ``"videos"`` (``root/<id>.webm``) or ``"rawframes"``
    (``root/<id>/<template>``)."""
    if source not in ("videos", "rawframes"):
        raise ValueError(f"source must be 'videos' or 'rawframes'. Received: source={source!r}")
    labels = _load_json(labels_json)
    class_names = [name for name, _ in sorted(labels.items(), key=lambda kv: int(kv[1]))]
    if [int(v) for _, v in sorted(labels.items(), key=lambda kv: int(kv[1]))] != list(range(len(labels))):
        raise AnnotationError(f"{labels_json}: class indices are not 0..{len(labels) - 1}")
    index = _names_to_index(class_names)
    out = _Collector(split_json, on_error, check_files, len(class_names))
    for i, entry in enumerate(_load_json(split_json)):
        where = f"entry {i}"
        if "id" not in entry:
            out.bad(where, f"no 'id' in {entry}")
            continue
        label = -1
        if "template" in entry:
            name = ssv2_class_name(entry["template"])
            if name not in index:
                out.bad(where, f"unknown class {name!r} for id {entry['id']} (not in {labels_json})")
                continue
            label = index[name]
        num_frames = None
        if source == "videos":
            path = os.path.join(root, f"{entry['id']}{extension}")
        else:
            path = os.path.join(root, str(entry["id"]))
            if count_frames and os.path.isdir(path):
                num_frames = count_frames_in_folder(path, template, start_index)
        out.add(where, path, num_frames, label)
    return out.result(class_names)


def read_diving48(
    split_json,
    vocab_json,
    root,
    *,
    source="videos",
    extension=".mp4",
    on_error="raise",
    check_files=True,
):
    """Diving48 V2: JSON entries ``vid_name, label, start_frame, end_frame`` and a vocab JSON of 48
    sub-label lists (class name = sub-labels joined by '+', as MMAction2's label map).
    `end_frame` is exclusive; the record's `offset`/`num_frames` cover ``[start_frame, end_frame)``."""
    class_names = ["+".join(parts) for parts in _load_json(vocab_json)]
    out = _Collector(split_json, on_error, check_files, len(class_names))
    for i, entry in enumerate(_load_json(split_json)):
        where = f"entry {i}"
        try:
            name, label = entry["vid_name"], int(entry["label"])
            start, end = int(entry["start_frame"]), int(entry["end_frame"])
        except (KeyError, TypeError, ValueError) as e:
            out.bad(where, f"malformed entry {entry} ({e!r})")
            continue
        if source == "videos":
            path = os.path.join(root, name + extension)
        else:
            path = os.path.join(root, name)
        out.add(where, path, end - start, label, offset=start)
    return out.result(class_names)


def _read_epic_classes(path):
    """EPIC class CSV: 55 (`verb_id,class_key,verbs`) or 100 (`id,key,instances,category`)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    id_key = "id" if "id" in rows[0] else next(k for k in rows[0] if k.endswith("_id"))
    name_key = "key" if "key" in rows[0] else "class_key"
    names = {int(r[id_key]): r[name_key] for r in rows}
    if sorted(names) != list(range(len(names))):
        raise AnnotationError(f"{path}: class ids are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


EPIC_TARGETS = ("verb", "noun", "action")


def read_epic_kitchens(
    annotations_csv,
    root,
    *,
    verb_classes_csv=None,
    noun_classes_csv=None,
    target="verb",
    action_classes=None,
    source="rawframes",
    video_dir="{participant_id}/{video_id}",
    extension=".MP4",
    on_error="raise",
    check_files=True,
):
    """EPIC-KITCHENS-55/100 action segments: CSV with ``video_id, start_frame, stop_frame, verb_class,
    noun_class`` (1-indexed, inclusive frame numbers of the full video).

    `source="rawframes"`: ``root/<video_dir>/frame_0000000001.jpg`` (use template
    ``"frame_{:010d}.jpg"`` in the pipeline); `"videos"`: ``root/<video_dir><extension>``.
    `video_dir` is a format string of `participant_id`, `video_id`: the default fits EPIC-55's
    ``rgb/train/P01/P01_01``; EPIC-100's release layout is ``"{participant_id}/rgb_frames/{video_id}"``.
    `target`: ``"verb"`` (the paper's number), ``"noun"`` or ``"action"``: a (verb, noun) pair indexed
    in `action_classes` (list of pairs; default: the sorted pairs found in this file, so pass the
    training split's list when reading the validation split).
    """
    if target not in EPIC_TARGETS:
        raise ValueError(f"target must be one of {EPIC_TARGETS}. Received: target={target!r}")
    with open(annotations_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    verbs = _read_epic_classes(verb_classes_csv) if verb_classes_csv else None
    nouns = _read_epic_classes(noun_classes_csv) if noun_classes_csv else None
    if target == "action":
        if action_classes is None:
            action_classes = sorted({(int(r["verb_class"]), int(r["noun_class"])) for r in rows})
        action_index = {tuple(pair): i for i, pair in enumerate(action_classes)}
        class_names = [
            f"{verbs[v] if verbs else v} {nouns[n] if nouns else n}" for v, n in action_classes
        ]
    else:
        names = verbs if target == "verb" else nouns
        class_names = names if names is not None else []
    out = _Collector(annotations_csv, on_error, check_files, len(class_names) or None)
    for line_no, row in enumerate(rows, 2):
        try:
            start, stop = int(row["start_frame"]), int(row["stop_frame"])
            verb, noun = int(row["verb_class"]), int(row["noun_class"])
            video_id = row["video_id"]
            participant = row.get("participant_id") or video_id.split("_")[0]
        except (KeyError, TypeError, ValueError) as e:
            out.bad(line_no, f"malformed row ({e!r})")
            continue
        if target == "action":
            if (verb, noun) not in action_index:
                out.bad(line_no, f"(verb, noun) = ({verb}, {noun}) is not in action_classes")
                continue
            label = action_index[(verb, noun)]
        else:
            label = verb if target == "verb" else noun
        folder = os.path.join(root, video_dir.format(participant_id=participant, video_id=video_id))
        path = folder if source == "rawframes" else folder + extension
        out.add(line_no, path, stop - start + 1, label, offset=start - 1)
    return out.result(class_names)


def _read_egtea_index(path):
    """``name index`` lines (name may contain spaces), 1-indexed -> 0-indexed list of names."""
    pairs = []
    for line in _read_lines(path):
        if line.strip():
            name, index = line.rsplit(" ", 1)
            pairs.append((int(index) - 1, name))
    pairs.sort()
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise AnnotationError(f"{path}: indices are not 1..{len(pairs)}")
    return [name for _, name in pairs]


def read_egtea(
    split_txt,
    root,
    *,
    action_idx=None,
    verb_idx=None,
    noun_idx=None,
    target="action",
    path_format="{session}/{clip}.mp4",
    on_error="raise",
    check_files=True,
):
    """EGTEA Gaze+: split txt ``clip_name action verb noun [noun ...]`` (1-indexed ids, made 0-indexed).

    `target`: ``"action"`` (106 classes), ``"verb"`` (19) or ``"noun"`` (53; the first noun).
    Clips are ``root/<path_format>``; `session` is the clip name's first three '-' parts
    (``OP01-R01-PastaSalad``), the layout of the released cropped clips.
    """
    columns = {"action": 1, "verb": 2, "noun": 3}
    if target not in columns:
        raise ValueError(f"target must be one of {tuple(columns)}. Received: target={target!r}")
    index_file = {"action": action_idx, "verb": verb_idx, "noun": noun_idx}[target]
    class_names = _read_egtea_index(index_file) if index_file else []
    out = _Collector(split_txt, on_error, check_files, len(class_names) or None)
    for line_no, line in enumerate(_read_lines(split_txt), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            label = int(parts[columns[target]]) - 1
        except (IndexError, ValueError):
            out.bad(line_no, f"expected 'clip_name action verb noun', got {line!r}")
            continue
        if label < 0:
            out.bad(line_no, f"{target} id {label + 1} is not 1-indexed")
            continue
        clip = parts[0]
        path = os.path.join(root, path_format.format(clip=clip, session="-".join(clip.split("-")[:3])))
        out.add(line_no, path, None, label)
    return out.result(class_names)


_SWAPS = {"left": "right", "right": "left", "clockwise": "counterclockwise",
          "counterclockwise": "clockwise", "anticlockwise": "clockwise"}
_DIRECTION_WORD = re.compile(r"\b(left|right|clockwise|counterclockwise|anticlockwise)\b", re.IGNORECASE)


def _mirror_name(name):
    def swap(m):
        word = _SWAPS[m.group(0).lower()]
        return word.capitalize() if m.group(0)[0].isupper() else word

    return _DIRECTION_WORD.sub(swap, name)


def derive_flip_map(class_names):
    """Label map for horizontal flips: classes whose names are mirror images ('left' <-> 'right',
    'clockwise' <-> 'counterclockwise'). Returns ``(flip_map, unpaired)``: a symmetric dict and the names
    that mention a direction but have no mirror class (a flip would make their label wrong)."""
    index = _names_to_index(class_names)
    flip_map, unpaired = {}, []
    for i, name in enumerate(class_names):
        if not _DIRECTION_WORD.search(name):
            continue
        j = index.get(_mirror_name(name))
        if j is None or j == i:
            unpaired.append(name)
        else:
            flip_map[i] = j
    return flip_map, unpaired


def pairs_to_map(pairs):
    """((a, b), ...) -> symmetric dict."""
    flip_map = {}
    for a, b in pairs:
        flip_map[a], flip_map[b] = b, a
    return flip_map
