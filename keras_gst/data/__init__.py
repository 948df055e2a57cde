"""Video / frame-folder datasets as tf.data pipelines with the paper's sampling and test views."""

from keras_gst.data.annotations import (
    SSV1_FLIP_PAIRS,
    SSV2_FLIP_PAIRS,
    AnnotationError,
    Annotations,
    VideoRecord,
    derive_flip_map,
    pairs_to_map,
    read_diving48,
    read_egtea,
    read_epic_kitchens,
    read_label_map,
    read_list_file,
    read_sthv1,
    read_sthv2,
)
from keras_gst.data.decode import (
    DecodeTimeoutError,
    ShortVideoError,
    VideoDecodeError,
    count_video_frames,
    iter_video_frames,
    load_video_clip,
    read_video_frames,
)
from keras_gst.data.extract import extract_frames
from keras_gst.data.folders import check_label_range, read_class_folders, require_labels, split_annotations, write_labels
from keras_gst.data.pipeline import SkipLog, build_dataset
from keras_gst.data.shard_reader import Shards, read_shards
from keras_gst.data.sampling import dense_indices, sample_indices, segment_indices
from keras_gst.data.synthetic import write_synthetic_dataset
from keras_gst.data.transforms import IMAGENET_MEAN, IMAGENET_STD
