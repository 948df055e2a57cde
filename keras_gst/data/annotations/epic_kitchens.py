"""EPIC-KITCHENS-55 and -100 action segments (CSV, 1-indexed inclusive frame numbers)."""

import csv
import os
from collections.abc import Sequence

from keras_gst.data.annotations.records import AnnotationError, Annotations, Collector, open_text


def _read_epic_classes(path):
    """EPIC class CSV: 55 (`verb_id,class_key,verbs`) or 100 (`id,key,instances,category`)."""
    with open_text(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise AnnotationError(f"{path}: no class rows")
    id_key = "id" if "id" in rows[0] else next(k for k in rows[0] if k.endswith("_id"))
    name_key = "key" if "key" in rows[0] else "class_key"
    names = {int(r[id_key]): r[name_key] for r in rows}
    if sorted(names) != list(range(len(names))):
        raise AnnotationError(f"{path}: class ids are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


EPIC_TARGETS = ("verb", "noun", "action")


def read_epic_kitchens(
    annotations_csv: str | os.PathLike,
    root: str | os.PathLike,
    *,
    verb_classes_csv: str | os.PathLike | None = None,
    noun_classes_csv: str | os.PathLike | None = None,
    target: str = "verb",
    action_classes: Sequence[tuple[int, int]] | None = None,
    source: str = "rawframes",
    video_dir: str = "{participant_id}/{video_id}",
    extension: str = ".MP4",
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    r"""EPIC-KITCHENS-55/100 action segments: CSV with ``video_id, start_frame, stop_frame, verb_class,
    noun_class`` (1-indexed, inclusive frame numbers of the full video).

    `source="rawframes"`: ``root/<video_dir>/frame_0000000001.jpg`` (use template
    ``"frame_{:010d}.jpg"`` in the pipeline); `"videos"`: ``root/<video_dir><extension>``.
    `video_dir` is a format string of `participant_id`, `video_id`: the default fits EPIC-55's
    ``rgb/train/P01/P01_01``; EPIC-100's release layout is ``"{participant_id}/rgb_frames/{video_id}"``.
    `target`: ``"verb"`` (the paper's number), ``"noun"`` or ``"action"``: a (verb, noun) pair indexed
    in `action_classes` (list of pairs; default: the sorted pairs found in this file, so pass the
    training split's list when reading the validation split).

    Example:

    ```python
    from keras_gst.data import read_epic_kitchens

    with open("EPIC_train_action_labels.csv", "w") as f:
        f.write("participant_id,video_id,start_frame,stop_frame,verb_class,noun_class\n")
        f.write("P01,P01_01,11,40,3,7\n")
    annotations = read_epic_kitchens("EPIC_train_action_labels.csv", "rgb/train", check_files=False)
    print(annotations.records[0])  # VideoRecord(path='rgb/train/P01/P01_01', num_frames=30, label=3, offset=10)
    ```
    """
    if target not in EPIC_TARGETS:
        raise ValueError(f"target must be one of {EPIC_TARGETS}. Received: target={target!r}")
    with open_text(annotations_csv) as f:
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
    out = Collector(annotations_csv, on_error, check_files, len(class_names) or None)
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
