"""Diving48 V2: JSON entries `vid_name, label, start_frame, end_frame` and the vocab JSON."""

import os

from keras_gst.data.annotations.records import AnnotationError, Collector, load_json


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
    vocab = load_json(vocab_json, list, "sub-label lists ([[\"Back\", \"15som\", ...], ...])")
    if not all(isinstance(parts, list) and all(isinstance(p, str) for p in parts) for parts in vocab):
        raise AnnotationError(f"{vocab_json}: expected a list of sub-label lists ([[\"Back\", \"15som\", ...], ...])")
    class_names = ["+".join(parts) for parts in vocab]
    out = Collector(split_json, on_error, check_files, len(class_names))
    for i, entry in enumerate(load_json(split_json, list, 'video entries ({"vid_name": ..., "label": ...})')):
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
