"""Something-Something V1 (CSV + frame folders) and V2 (JSON + webm videos or frame folders)."""

import os

from keras_gst.data.annotations.records import (
    AnnotationError,
    Collector,
    load_json,
    names_to_index,
    read_label_map,
    read_lines,
)

# Left/right class pairs of Something-Something V2 (MMAction2's sthv2 flip map, the authors' code).
SSV2_FLIP_PAIRS = ((86, 87), (93, 94), (166, 167))
# Something-Something V1 (MMAction2's sthv1 flip map).
SSV1_FLIP_PAIRS = ((2, 4), (30, 41), (52, 66))


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
    index = names_to_index(class_names)
    out = Collector(split_csv, on_error, check_files, len(class_names))
    for line_no, line in enumerate(read_lines(split_csv), 1):
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
            num_frames = out.frame_count(line_no, folder, template, start_index)
            if num_frames is None:
                continue
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
    labels = load_json(labels_json, dict, 'class names and their indices ({"Pushing something": "0", ...})')
    try:
        ordered = sorted((int(v), name) for name, v in labels.items())
    except (TypeError, ValueError):
        raise AnnotationError(f"{labels_json}: class indices must be integers (\"0\", \"1\", ...)") from None
    if [i for i, _ in ordered] != list(range(len(labels))):
        raise AnnotationError(f"{labels_json}: class indices are not 0..{len(labels) - 1}")
    class_names = [name for _, name in ordered]
    index = names_to_index(class_names)
    out = Collector(split_json, on_error, check_files, len(class_names))
    for i, entry in enumerate(load_json(split_json, list, 'video entries ({"id": ..., "template": ...})')):
        where = f"entry {i}"
        if not isinstance(entry, dict) or "id" not in entry:
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
                num_frames = out.frame_count(where, path, template, start_index)
                if num_frames is None:
                    continue
        out.add(where, path, num_frames, label)
    return out.result(class_names)
