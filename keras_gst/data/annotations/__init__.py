"""Annotation readers: every dataset format becomes a list of `VideoRecord`s plus class names.

A record names its source (a video file or a frame folder), how many frames it has if that is known
(frame folders, list files; `None` for videos, whose container counts are not trusted), its label(s) and
the 0-based frame offset of the segment inside the source (EPIC-KITCHENS, Diving48).

Every reader takes `on_error`: ``"raise"`` (default) stops at the first bad entry with a message naming
the annotation file and line; ``"skip"`` logs each bad entry and counts it in `Annotations.skipped`.
With ``check_files=True`` (default) a source that does not exist is a bad entry. Text files may start
with a UTF-8 byte-order mark (Windows editors write one); it is not part of the first entry.

One module per format family: `records` (the record types, shared helpers, frame counting), `lists`
(list files), `something` (Something-Something V1/V2), `diving48`, `epic_kitchens`, `egtea`, and
`flips` (left/right class maps).
"""

from keras_gst.data.annotations.diving48 import read_diving48
from keras_gst.data.annotations.egtea import read_egtea
from keras_gst.data.annotations.epic_kitchens import EPIC_TARGETS, read_epic_kitchens
from keras_gst.data.annotations.flips import derive_flip_map, pairs_to_map
from keras_gst.data.annotations.lists import read_list_file
from keras_gst.data.annotations.records import (
    VIDEO_EXTENSIONS,
    AnnotationError,
    Annotations,
    FrameGapError,
    VideoRecord,
    count_frames_in_folder,
    is_video_path,
    read_label_map,
)
from keras_gst.data.annotations.something import (
    SSV1_FLIP_PAIRS,
    SSV2_FLIP_PAIRS,
    read_sthv1,
    read_sthv2,
    ssv2_class_name,
)

__all__ = [
    "EPIC_TARGETS",
    "SSV1_FLIP_PAIRS",
    "SSV2_FLIP_PAIRS",
    "VIDEO_EXTENSIONS",
    "AnnotationError",
    "Annotations",
    "FrameGapError",
    "VideoRecord",
    "count_frames_in_folder",
    "derive_flip_map",
    "is_video_path",
    "pairs_to_map",
    "read_diving48",
    "read_egtea",
    "read_epic_kitchens",
    "read_label_map",
    "read_list_file",
    "read_sthv1",
    "read_sthv2",
    "ssv2_class_name",
]
