"""EGTEA Gaze+: split txt `clip_name action verb noun` with 1-indexed ids."""

import os

from keras_gst.data.annotations.records import AnnotationError, Annotations, Collector, read_lines


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
    split_txt: str | os.PathLike,
    root: str | os.PathLike,
    *,
    action_idx: str | os.PathLike | None = None,
    verb_idx: str | os.PathLike | None = None,
    noun_idx: str | os.PathLike | None = None,
    target: str = "action",
    path_format: str = "{session}/{clip}.mp4",
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    r"""EGTEA Gaze+: split txt ``clip_name action verb noun [noun ...]`` (1-indexed ids, made 0-indexed).

    `target`: ``"action"`` (106 classes), ``"verb"`` (19) or ``"noun"`` (53; the first noun).
    Clips are ``root/<path_format>``; `session` is the clip name's first three '-' parts
    (``OP01-R01-PastaSalad``), the layout of the released cropped clips. `action_idx` / `verb_idx` /
    `noun_idx`: the index file (``name id`` lines) that names the classes of `target`.

    Example:

    ```python
    from keras_gst.data import read_egtea

    with open("verb_idx.txt", "w") as f:
        f.write("Take 1\nPut 2\n")
    with open("test_split1.txt", "w") as f:
        f.write("OP01-R01-PastaSalad-1002316-1004005 7 2 3\n")  # clip, action, verb, noun (1-indexed)
    annotations = read_egtea("test_split1.txt", "clips", verb_idx="verb_idx.txt", target="verb", check_files=False)
    print(annotations.class_names, annotations.records[0].label)  # ['Take', 'Put'] 1
    print(annotations.records[0].path)  # clips/OP01-R01-PastaSalad/OP01-R01-PastaSalad-1002316-1004005.mp4
    ```
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
