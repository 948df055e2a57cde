"""Something-Something V1 (CSV + frame folders) and V2 (JSON + webm videos or frame folders)."""

import os

from keras_gst.data.annotations.records import (
    AnnotationError,
    Annotations,
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
    split_csv: str | os.PathLike,
    labels_csv: str | os.PathLike,
    frames_root: str | os.PathLike,
    *,
    template: str = "{:05d}.jpg",
    start_index: int = 1,
    count_frames: bool = True,
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    r"""Something-Something V1: ``id;label name`` CSV (test: ids only) + 174 label names, frame folders
    ``frames_root/<id>/00001.jpg``. `count_frames` lists each folder to get the true frame count.

    Example:

    ```python
    import os

    from keras_gst.data import read_sthv1

    with open("labels.csv", "w") as f:
        f.write("Pulling something\nPushing something\n")
    with open("validation.csv", "w") as f:
        f.write("7;Pushing something\n")
    os.makedirs("frames/7")
    for i in range(1, 4):
        open(f"frames/7/{i:05d}.jpg", "wb").close()
    annotations = read_sthv1("validation.csv", "labels.csv", "frames")
    print(annotations.records)  # [VideoRecord(path='frames/7', num_frames=3, label=1, offset=0)]
    ```
    """
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


def ssv2_class_name(template: str) -> str:
    """SSv2 entry template -> class name: 'Putting [something] onto [something]' -> '... something'.

    Example:

    ```python
    from keras_gst.data.annotations import ssv2_class_name

    print(ssv2_class_name("Putting [something] onto [something]"))  # Putting something onto something
    ```
    """
    return template.replace("[", "").replace("]", "")


def read_sthv2(
    split_json: str | os.PathLike,
    labels_json: str | os.PathLike,
    root: str | os.PathLike,
    *,
    source: str = "videos",
    extension: str = ".webm",
    template: str = "{:04d}.jpg",
    start_index: int = 1,
    count_frames: bool = True,
    on_error: str = "raise",
    check_files: bool = True,
) -> Annotations:
    """Something-Something V2: split JSON (``id``, ``template``, ...; test split: ``id`` only) and the
    labels JSON ``{name: "index"}``. `source`: ``"videos"`` (``root/<id>.webm``) or ``"rawframes"``
    (``root/<id>/<template>``).

    Example:

    ```python
    import json

    from keras_gst.data import read_sthv2

    with open("labels.json", "w") as f:
        json.dump({"Pushing something from left to right": "0", "Pushing something from right to left": "1"}, f)
    with open("validation.json", "w") as f:
        json.dump([{"id": "42", "template": "Pushing [something] from right to left", "placeholders": ["a cup"]}], f)
    annotations = read_sthv2("validation.json", "labels.json", "videos", check_files=False)
    print(annotations.records)  # [VideoRecord(path='videos/42.webm', num_frames=None, label=1, offset=0)]
    ```
    """
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
