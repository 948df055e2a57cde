"""Video / frame-folder datasets as tf.data pipelines with the paper's sampling and test views.

`build_dataset(source, spec, ...)` takes the records and a `DataSpec` (what a clip is). Names are imported on
first use, so `keras_gst.data.spec` (the data arguments' checks) loads without TensorFlow."""

import importlib

_EXPORTS = {
    "keras_gst.data.annotations": (
        "SSV1_FLIP_PAIRS", "SSV2_FLIP_PAIRS", "AnnotationError", "Annotations", "VideoRecord", "derive_flip_map",
        "pairs_to_map", "read_diving48", "read_egtea", "read_epic_kitchens", "read_label_map", "read_list_file",
        "read_sthv1", "read_sthv2",
    ),
    "keras_gst.data.decode": (
        "DecodeTimeoutError", "ShortVideoError", "VideoDecodeError", "count_video_frames", "iter_video_frames",
        "load_video_clip", "read_video_frames",
    ),
    "keras_gst.data.extract": ("extract_frames",),
    "keras_gst.data.folders": ("check_label_range", "read_class_folders", "require_labels", "split_annotations",
                               "write_labels"),
    "keras_gst.data.pipeline": ("SkipLog", "build_dataset"),
    "keras_gst.data.shard_reader": ("Shards", "read_shards"),
    "keras_gst.data.sampling": ("dense_indices", "sample_indices", "segment_indices"),
    "keras_gst.data.spec": ("DataSpec",),
    "keras_gst.data.synthetic": ("write_synthetic_dataset",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_gst.data' has no attribute {name!r}")
