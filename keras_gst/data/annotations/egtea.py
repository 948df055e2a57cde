"""EGTEA Gaze+: split txt `clip_name action verb noun` with 1-indexed ids."""

import os

from keras_gst.data.annotations.records import AnnotationError, Collector, read_lines


def _read_egtea_index(path):
    """``name index`` lines (name may contain spaces), 1-indexed -> 0-indexed list of names."""
    pairs = []
    for line in read_lines(path):
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
    out = Collector(split_txt, on_error, check_files, len(class_names) or None)
    for line_no, line in enumerate(read_lines(split_txt), 1):
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
