"""Diving48 V2: JSON entries `vid_name, label, start_frame, end_frame` and the vocab JSON."""

import os

from keras_gst.data.annotations.records import AnnotationError, Annotations, Collector, load_json


def read_diving48(
    split_json: str | os.PathLike,
    vocab_json: str | os.PathLike,
    root: str | os.PathLike,
    *,
    source: str = "videos",
    extension: str = ".mp4",
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    """Diving48 V2: JSON entries ``vid_name, label, start_frame, end_frame`` and a vocab JSON of 48
    sub-label lists (class name = sub-labels joined by '+', as MMAction2's label map).
    `end_frame` is exclusive; the record's `offset`/`num_frames` cover ``[start_frame, end_frame)``.
    `source`: ``"videos"`` (``root/<vid_name><extension>``) or anything else for frame folders
    (``root/<vid_name>``).

    Example:

    ```python
    import json

    from keras_gst.data import read_diving48

    with open("vocab.json", "w") as f:
        json.dump([["Back", "15som", "05Twis", "FREE"], ["Inward", "25som", "NoTwis", "PIKE"]], f)
    with open("test.json", "w") as f:
        json.dump([{"vid_name": "clip_00155", "label": 1, "start_frame": 10, "end_frame": 62}], f)
    annotations = read_diving48("test.json", "vocab.json", "videos", check_files=False)
    print(annotations.class_names[1])  # Inward+25som+NoTwis+PIKE
    print(annotations.records[0])  # VideoRecord(path='videos/clip_00155.mp4', num_frames=52, label=1, offset=10)
    ```
    """
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
