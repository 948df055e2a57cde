"""`build_dataset`: records -> batched, prefetched `tf.data.Dataset` of clips.

Per element: sample frame indices (`sampling`), decode only those frames in a `tf.numpy_function`
(videos: OpenCV/PyAV; frame folders: JPEGs checked and decoded with OpenCV), so an unreadable item is a
Python error naming the file (`on_error`); then one crop box and one flip for the whole clip
(`transforms`), then the classifier's normalisation (`GSTVideoConverter`, through
`keras_gst.models.gst_video_classifier_preprocessor.normalize_clips`). What a clip is comes from a `DataSpec`.
Training yields ``((B, T, S, S, 3) float32, labels)``; testing
with ``num_clips * num_crops > 1`` views yields ``(B, V, T, S, S, 3)`` with views clip-major, to be
averaged by the evaluator.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from keras_gst.data import decode, shard_reader, transforms
from keras_gst.data.annotations import Annotations, VideoRecord, derive_flip_map, read_list_file
from keras_gst.data.sampling import sample_indices
from keras_gst.data.spec import DataSpec
from keras_gst.errors import ParameterError
from keras_gst.models.gst_video_classifier_preprocessor import normalize_clips

logger = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE
_DECODE_ERRORS = (decode.VideoDecodeError, FileNotFoundError, OSError)


class SkipLog:
    """Items skipped with ``on_error="skip"``: each is logged with its file and reason as it happens;
    at the end of every pass over the data the number of distinct files skipped in it is logged and the
    pass's items appended to `epochs`. `total` is the number of distinct files skipped so far (a file
    that fails in every epoch, or is loaded again by a prefetch that runs ahead, counts once).

    Example:

    ```python
    from keras_gst.data import SkipLog

    log = SkipLog()  # pass it as build_dataset(..., skip_log=log) with DataSpec(on_error="skip")
    log.add("videos/broken.mp4", "videos/broken.mp4: cannot decode")  # what the pipeline does per bad item
    print(log.end_epoch(total=10), log.files)  # 1 ['videos/broken.mp4']
    ```
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.current = []
        self.epochs = []

    def add(self, path, reason):
        with self._lock:
            self.current.append((path, reason))
            n = len(self.current)
        logger.warning("skipped item %d of this epoch: %s", n, reason)

    def end_epoch(self, total):
        with self._lock:
            items, self.current = self.current, []
            self.epochs.append(items)
        files = sorted({path for path, _ in items})
        if files:
            logger.warning("%d of %d items were skipped this epoch (unreadable files): %s", len(files),
                           total, ", ".join(files))
        return len(files)

    @property
    def items(self):
        """Every (path, reason) skipped so far, earlier passes first."""
        with self._lock:
            return [item for items in self.epochs + [self.current] for item in items]

    @property
    def files(self):
        """The distinct files skipped so far, sorted."""
        return sorted({path for path, _ in self.items})

    @property
    def total(self):
        return len(self.files)


def _describe(source):
    if isinstance(source, (str, os.PathLike)):
        return f"the list file {source}"
    return "the annotations" if isinstance(source, Annotations) else "the records"


def _as_records(source, class_names, on_error="raise"):
    if isinstance(source, (str, os.PathLike)):
        source = read_list_file(source, class_names=class_names, on_error=on_error)
    if isinstance(source, Annotations):
        return list(source.records), (class_names if class_names is not None else source.class_names)
    records = list(source)
    if not all(isinstance(r, VideoRecord) for r in records):
        raise TypeError("build_dataset takes Annotations, a list of VideoRecord or a list-file path")
    return records, class_names


def shard_frame_error(frame, reason):
    return decode.VideoDecodeError(f"{reason}: {frame} in its TFRecord shard; shard the video again "
                                   "(`keras-gst shard`) or leave it out")


def _flip_setting(flip, flip_map, class_names):
    """-> flip map dict (flip on) or None (flip off)."""
    if flip is False:
        return None
    if flip_map is not None:
        return dict(flip_map)
    if class_names:
        derived, unpaired = derive_flip_map(class_names)
        if derived:
            return derived
        if unpaired:
            if flip is True:
                raise ValueError(f"flip=True but classes {unpaired[:3]} name a direction and have no "
                                 "mirror class: pass flip_map or flip=False")
            logger.info("horizontal flip off: classes name directions without mirror pairs")
            return None
        return {}
    if flip is True:
        return {}
    logger.info("horizontal flip off (flip='auto' without class names); pass class_names or flip=True")
    return None


def build_dataset(
    source: Annotations | Sequence[VideoRecord] | str | os.PathLike | shard_reader.Shards,
    spec: DataSpec | None = None,
    *,
    training: bool = False,
    batch_size: int = 8,
    class_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    shuffle: bool | None = None,
    shuffle_buffer: int | None = None,
    cache: bool | str = False,
    repeat: bool = False,
    drop_remainder: bool | None = None,
    skip_log: SkipLog | None = None,
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    num_parallel_calls: int = AUTOTUNE,
    normalize: bool = True,
) -> tf.data.Dataset:
    """Build the input pipeline.

    Args:
        source: `Annotations`, a list of `VideoRecord`, a list-file path (`read_list_file`), or the
            `Shards` of `read_shards` (TFRecord shards of `keras-gst shard`: files read interleaved,
            each input pipeline its own files; `shuffle_buffer` default 256 records).
            All records must be videos or all frame folders.
        spec: a `DataSpec` (frames, size, sampling, augmentation, test views, frame files, `on_error`);
            None: `DataSpec()`.
        training: random sampling, multi-scale crop and flip; else centre sampling and the spec's test
            views (`num_clips` x `num_crops`; training ignores them).
        batch_size: global batch size (per replica: `input_context.get_per_replica_batch_size`).
        class_names / num_classes: label space (default: the Annotations' class names).
        shuffle (default: training), shuffle_buffer (default: all records), cache (eval only: True or a
            file name), repeat, drop_remainder (default: training: every batch has `batch_size` clips,
            the last partial batch of a pass is dropped; fewer clips than one batch without `repeat`
            is a `ParameterError` naming `batch_size`, as the dataset would yield nothing).
        skip_log: a `SkipLog` collecting the items skipped with `spec.on_error="skip"` (each logged, and
            each epoch's count).
        seed: makes sampling, crops and flips repeatable.
        input_context: a `tf.distribute.InputContext` (from `distribute_datasets_from_function`).
        normalize: True: clips are ImageNet-normalised float32 as the classifier's preprocessor makes them;
            False: float32 RGB pixels in [0, 255] (for a model file that normalises itself).

    Example:

    ```python
    from keras_gst.data import DataSpec, build_dataset, read_list_file, write_synthetic_dataset

    train_list, _, _ = write_synthetic_dataset("synthetic", num_videos_per_class=2, frames=8, size=32, num_classes=2)
    train = read_list_file(train_list)  # "videos/c0_train_0000.mp4 0", ...
    ds = build_dataset(train, DataSpec(num_frames=4, crop_size=32, scale_size=32), training=True, batch_size=2, seed=0)
    clips, labels = next(iter(ds))
    print(tuple(clips.shape), clips.dtype.name, tuple(labels.shape))  # (2, 4, 32, 32, 3) float32 (2,)
    ```
    """
    spec = DataSpec() if spec is None else spec
    if not isinstance(spec, DataSpec):
        raise TypeError(f"build_dataset takes a keras_gst.data.DataSpec as `spec`, got {type(spec).__name__}")
    num_frames, crop_size, scale_size = spec.num_frames, spec.crop_size, spec.scale_size
    sampling, frame_interval, on_error = spec.sampling, spec.frame_interval, spec.on_error
    template, start_index = spec.template, spec.start_index
    num_clips, num_crops = (1, 1) if training else (spec.num_clips, spec.num_crops)
    records, class_names = _as_records(source, class_names, on_error)
    if not records:
        raise ValueError(f"build_dataset: {_describe(source)} holds no usable clips"
                         + (f" ({len(source.skipped)} entries skipped)" if getattr(source, "skipped", None) else ""))
    if training and cache:
        raise ValueError("cache=True with training would freeze the random sampling and crops; "
                         "cache only evaluation datasets")
    shards = source if isinstance(source, shard_reader.Shards) else None
    kinds = {True} if shards is not None else {r.is_video for r in records}
    if len(kinds) != 1:
        raise ValueError("build_dataset: records mix video files and frame folders; build one dataset "
                         "per kind (or extract frames with `keras-gst extract-frames`)")
    is_video = kinds.pop()
    shuffle = training if shuffle is None else shuffle
    drop_remainder = training if drop_remainder is None else drop_remainder
    skip_log = SkipLog() if skip_log is None else skip_log

    multi_label = any(isinstance(r.label, tuple) for r in records)
    largest = max(max(r.label) if isinstance(r.label, tuple) else r.label for r in records)
    if num_classes is None:
        num_classes = len(class_names) if class_names else largest + 1
    if largest >= num_classes:
        raise ValueError(f"label {largest} is out of range for num_classes={num_classes}")
    if multi_label:
        labels = np.zeros((len(records), num_classes), np.float32)
        for i, r in enumerate(records):
            labels[i, list(r.label if isinstance(r.label, tuple) else (r.label,))] = 1.0
    else:
        labels = np.array([r.label for r in records], np.int32)
    flip_pairs = _flip_setting(spec.flip, spec.flip_map, class_names) if training else None
    flip_table = None if flip_pairs is None else transforms.flip_lookup(flip_pairs, num_classes)

    clip_len = num_frames * num_clips
    num_views = num_clips * num_crops

    def sampler(rng):
        return lambda n: sample_indices(n, num_frames, mode=sampling, training=training, rng=rng,
                                        interval=frame_interval, num_clips=num_clips)

    def warn_if_short(path, available):
        span = num_frames if sampling == "segment" else num_frames * frame_interval
        if available < span:
            decode.warn_once((path, "short"), "%s has %d frames, fewer than the %d a clip spans: frames "
                             "are repeated", path, available, span)

    def skipped(source, error):
        """`on_error`: re-raise the decode error, or log the skip and return an empty, invalid clip."""
        if on_error == "raise":
            raise error
        skip_log.add(source, f"{type(error).__name__}: {error}")
        return np.zeros((clip_len, 1, 1, 3), np.uint8), False

    def load_video(path, n, offset, seed):
        path = path.decode()
        rng = np.random.default_rng(int(seed) % 2**63)
        try:
            frames, available = decode.load_video_clip(path, sampler(rng), num_frames=None if n < 0 else int(n),
                                                       offset=int(offset), timeout=spec.decode_timeout)
            warn_if_short(path, available)
            return decode.shrink_frames(frames, scale_size), True
        except _DECODE_ERRORS as e:
            return skipped(path, e)

    def load_frames(path, n, offset, seed):
        folder = path.decode()
        rng = np.random.default_rng(int(seed) % 2**63)
        try:
            tmpl = decode.detect_template(folder, start_index) if template == "auto" else template
            count = decode.folder_frame_count(folder, tmpl, start_index) - int(offset)
            if 0 < count < n:
                decode.warn_once(folder, "%s: the annotation says %d frames, %d are present; sampling "
                                  "from those", folder, int(n), count)
            available = count if n < 0 else min(int(n), count)
            if available <= 0:
                raise decode.VideoDecodeError(f"frame folder has no frames ({tmpl!r} from "
                                              f"{start_index + int(offset)}): {folder}")
            warn_if_short(folder, available)
            indices = sampler(rng)(available) + int(offset)
            return decode.read_frames(decode.frame_paths(folder, indices, tmpl, start_index)), True
        except _DECODE_ERRORS as e:
            return skipped(folder, e)

    def epoch_end():
        skip_log.end_epoch(len(records))
        return np.zeros((clip_len, 1, 1, 3), np.uint8), False

    def load_shard(jpegs, media_id, seed):
        name = media_id.decode()
        rng = np.random.default_rng(int(seed) % 2**63)
        try:
            if len(jpegs) == 0:
                raise decode.VideoDecodeError(f"shard record {name} has no frames; shard the video again")
            warn_if_short(name, len(jpegs))
            where = {}  # frame index -> its positions in the clip (each JPEG decoded once)
            for position, index in enumerate(sampler(rng)(len(jpegs))):
                where.setdefault(int(index), []).append(position)
            frames = decode.decode_jpegs([jpegs[i] for i in where], [f"frame {i} of {name}" for i in where],
                                         list(where.values()), clip_len, error=shard_frame_error)
            return decode.shrink_frames(frames, scale_size), True
        except _DECODE_ERRORS as e:
            return skipped(name, e)

    loader = load_video if is_video else load_frames

    def load(element, seed):
        path, n, offset, label = element
        frames, ok = tf.numpy_function(loader, [path, n, offset, seed], [tf.uint8, tf.bool], name="load_clip")
        frames.set_shape([clip_len, None, None, 3])
        ok.set_shape([])
        return frames, label, seed, ok

    def sentinel(_):
        frames, ok = tf.numpy_function(epoch_end, [], [tf.uint8, tf.bool], name="epoch_end")
        frames.set_shape([clip_len, None, None, 3])
        ok.set_shape([])
        return frames, tf.zeros_like(labels[0]), tf.constant(0, tf.int64), ok

    def transform(frames, label, seed, ok):
        shape = tf.shape(frames)
        height, width = shape[1], shape[2]
        if training:
            box = transforms.multiscale_crop_box(height, width, tf.stack([seed, 1]), scale_size=scale_size,
                                                 crop_size=crop_size, scales=spec.scales)
            do_flip = False
            if flip_table is not None:
                do_flip = tf.random.stateless_uniform([], tf.stack([seed, 2])) < 0.5
                label = tf.cond(do_flip, lambda: transforms.swap_label(label, flip_table), lambda: label)
            views = transforms.crop_resize(frames, box[None], crop_size, [do_flip], scale_size)
        else:
            boxes, flips = transforms.view_crop_boxes(height, width, num_crops, scale_size=scale_size,
                                                      crop_size=crop_size)
            views = transforms.crop_resize(frames, boxes, crop_size, flips, scale_size)
            if num_views > 1:  # (crops, clips*T, ...) -> (clips, crops, T, ...) -> (V, T, ...)
                views = tf.reshape(views, [num_crops, num_clips, num_frames, crop_size, crop_size, 3])
                views = tf.transpose(views, [1, 0, 2, 3, 4, 5])
                views = tf.reshape(views, [num_views, num_frames, crop_size, crop_size, 3])
        if normalize:  # views (V, T, S, S, 3) as a batch of clips
            views = normalize_clips(views)
        return (views[0] if num_views == 1 else views), label

    def load_record(record, seed):
        jpegs, media_id, label = record
        frames, ok = tf.numpy_function(load_shard, [jpegs, media_id, seed], [tf.uint8, tf.bool], name="load_shard")
        frames.set_shape([clip_len, None, None, 3])
        ok.set_shape([])
        return frames, label, seed, ok

    per_replica_batch = batch_size
    if input_context is not None:
        per_replica_batch = input_context.get_per_replica_batch_size(batch_size)
    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
    # this pipeline's clips (unknown for a worker's share of shard files)
    share = None if shards is not None and pipelines > 1 else len(range(pipeline_id, len(records), pipelines))
    if drop_remainder and not repeat and share is not None:
        if share < per_replica_batch:
            raise ParameterError("batch_size", f"{share} clips are fewer than one batch of {per_replica_batch}, and "
                                 "drop_remainder=True (the training default) drops a partial batch: the dataset would "
                                 "yield nothing. Pass a smaller batch_size, drop_remainder=False or repeat=True")
        if share % per_replica_batch:
            logger.info("build_dataset: each pass drops the last %d of %d clips (drop_remainder=True, batch %d)",
                        share % per_replica_batch, share, per_replica_batch)
    if shards is not None:  # each input pipeline reads its own shard files, interleaved
        ds = shard_reader.record_dataset(shards, shuffle=shuffle, shuffle_buffer=shuffle_buffer, seed=seed,
                                         input_context=input_context, num_parallel_calls=num_parallel_calls)
    else:
        ds = tf.data.Dataset.from_tensor_slices((
            tf.constant([r.path for r in records]),
            tf.constant([-1 if r.num_frames is None else r.num_frames for r in records], tf.int64),
            tf.constant([r.offset for r in records], tf.int64),
            tf.constant(labels),
        ))
        if input_context is not None:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle:
            ds = ds.shuffle(shuffle_buffer or len(records), seed=seed, reshuffle_each_iteration=True)
    if training:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    else:
        seeds = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    ds = tf.data.Dataset.zip((ds, seeds))
    options = {"num_parallel_calls": num_parallel_calls}
    if seed is not None:
        options["deterministic"] = True
    ds = ds.map(load_record if shards is not None else load, **options)
    ds = ds.concatenate(tf.data.Dataset.range(1).map(sentinel))
    ds = ds.filter(lambda frames, label, seed, ok: ok)
    ds = ds.map(transform, **options)
    if on_error == "raise" and share is not None:  # nothing is skipped: tell Keras the epoch length
        ds = ds.apply(tf.data.experimental.assert_cardinality(share))
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(per_replica_batch, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)
