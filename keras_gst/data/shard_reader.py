"""Reading `keras-gst shard` output: `read_shards(dir_or_pattern)` -> `Shards`, which `build_dataset` takes.

`Shards` is `Annotations` (one `VideoRecord(media_id, frames, label)` per video, class names) plus the
TFRecord files. `build_dataset(read_shards(...), ...)` reads the files interleaved in parallel, parses each
`tf.train.SequenceExample` with `tf.io.parse_single_sequence_example`, samples the clip's frames with the
same `sampling` functions as videos and frame folders, decodes only those JPEGs (OpenCV, as frame
folders), and applies the same crops, flips and test views. With an `input_context` (e.g.
`MultiWorkerMirroredStrategy.distribute_datasets_from_function`) each input pipeline reads its own files;
datasets also carry `AutoShardPolicy.FILE` for `strategy.experimental_distribute_dataset`.
"""

import dataclasses
import glob
import os
from collections.abc import Sequence

from keras_gst.data.annotations import Annotations, VideoRecord
from keras_gst.data.shards import FORMAT, FRAMES_KEY, LABEL_KEY, MANIFEST, MEDIA_ID_KEY, read_manifest

DEFAULT_SHUFFLE_BUFFER = 256  # records (whole videos' JPEGs: ~0.5 MB each for SSv2 at 256 px)


@dataclasses.dataclass
class Shards(Annotations):
    """`Annotations` backed by TFRecord shards: `files` (sorted) and the `manifest` dicts they came from.
    `read_shards` makes them; `build_dataset` reads them.

    Example:

    ```python
    from keras_gst.data import Annotations, Shards, VideoRecord

    shards = Shards([VideoRecord("clip_a", 6, 1)], ["jump", "run"], files=["train-00000-of-00001.tfrecord"])
    print(isinstance(shards, Annotations), len(shards.files))  # True 1
    ```
    """

    files: list[str] = dataclasses.field(default_factory=list)
    manifests: list[dict] = dataclasses.field(default_factory=list)


def _glob(pattern):
    if "://" in pattern:
        import tensorflow as tf

        return sorted(tf.io.gfile.glob(pattern))
    return sorted(glob.glob(pattern))


def read_shards(dir_or_pattern: str | os.PathLike | Sequence[str | os.PathLike]) -> Shards:
    """`Shards` of one or more `keras-gst shard` outputs: a folder holding manifest.json, a glob pattern
    of shard files (``out/train-*.tfrecord``; their folder's manifest gives the records if the pattern
    covers all its shards, else the files are scanned once), or a list of those.

    Example:

    ```python
    import cv2
    import numpy as np
    import tensorflow as tf

    from keras_gst.data import read_shards
    from keras_gst.data.shards import sequence_example

    # one shard file as `keras-gst shard` writes it: a video of 6 JPEG frames, label 1
    jpeg = cv2.imencode(".jpg", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    with tf.io.TFRecordWriter("train-00000-of-00001.tfrecord") as writer:
        writer.write(sequence_example([jpeg] * 6, "clip_a", 1))
    shards = read_shards("train-*.tfrecord")
    print(shards.records)  # [VideoRecord(path='clip_a', num_frames=6, label=1, offset=0)]
    ```
    """
    sources = [dir_or_pattern] if isinstance(dir_or_pattern, (str, os.PathLike)) else list(dir_or_pattern)
    files, records, manifests, class_names = [], [], [], None
    for source in map(os.fspath, sources):
        if os.path.isdir(source) or ("://" in source and not any(c in source for c in "*?[")):
            manifest = read_manifest(source)
            found = [f"{source.rstrip('/')}/{name}" for name in manifest["shards"]]
        else:
            found = _glob(source)
            if not found:
                raise FileNotFoundError(f"no shard files match {source}")
            folder = os.path.dirname(found[0])
            manifest = None
            if os.path.isfile(os.path.join(folder, MANIFEST)):
                manifest = read_manifest(folder)
                if sorted(os.path.basename(f) for f in found) != sorted(manifest["shards"]):
                    manifest = None  # a subset of the shards: count their records below
        if manifest is not None:
            if manifest.get("format") != FORMAT:
                raise ValueError(f"{source}: manifest format {manifest.get('format')!r}, expected {FORMAT!r}")
            records += [VideoRecord(m, n, label) for m, n, label in manifest["videos"]]
            names = list(manifest.get("class_names") or [])
            manifests.append(manifest)
        else:
            records += scan_records(found)
            names = []
        if names and class_names and names != class_names:
            raise ValueError(f"{source}: class names differ from those of {sources[0]}; shard them with one --class-file")
        class_names = class_names or names
        files += [f for f in found if "://" in f or os.path.getsize(f) > 0]  # Beam writes empty shards as 0 bytes
    if not files:
        raise FileNotFoundError(f"no shard files in {dir_or_pattern}")
    return Shards(records, class_names or [], [], files=sorted(files), manifests=manifests)


def scan_records(files):
    """The `VideoRecord`s of shard `files`, by reading them once (context and frame counts)."""
    import tensorflow as tf

    records = []
    for serialized in tf.data.TFRecordDataset(files):
        context, lengths = _parse(serialized)[::2]
        records.append(VideoRecord(context[MEDIA_ID_KEY].numpy().decode(), int(lengths[FRAMES_KEY]),
                                   int(context[LABEL_KEY])))
    return records


def _parse(serialized):
    """-> (context, sequence, lengths) of one SequenceExample: the documented keys only."""
    import tensorflow as tf

    context, sequence, lengths = tf.io.parse_sequence_example(
        serialized[None],
        context_features={
            LABEL_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
            MEDIA_ID_KEY: tf.io.FixedLenFeature([], tf.string, default_value=""),
        },
        sequence_features={FRAMES_KEY: tf.io.FixedLenSequenceFeature([], tf.string)},
    )
    return ({k: v[0] for k, v in context.items()}, {k: v[0] for k, v in sequence.items()},
            {k: v[0] for k, v in lengths.items()})


def record_dataset(shards, *, shuffle, shuffle_buffer=None, seed=None, input_context=None,
                   num_parallel_calls=None):
    """Dataset of (jpegs (n,) string, media_id, label int32): the shard files (this pipeline's share of
    them under `input_context`), shuffled per epoch if `shuffle`, read interleaved in parallel."""
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    files = list(shards.files)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) < input_context.num_input_pipelines:
            raise ValueError(f"{len(files)} shard files for {input_context.num_input_pipelines} input pipelines "
                             "(workers): every worker reads its own files; shard with --shards >= the workers")
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 16), block_length=1,
                       num_parallel_calls=num_parallel_calls or autotune, deterministic=seed is not None)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer or min(len(shards), DEFAULT_SHUFFLE_BUFFER), seed=seed,
                        reshuffle_each_iteration=True)

    def parse(serialized):
        context, sequence, _ = _parse(serialized)
        return sequence[FRAMES_KEY], context[MEDIA_ID_KEY], tf.cast(context[LABEL_KEY], tf.int32)

    ds = ds.map(parse, num_parallel_calls=num_parallel_calls or autotune, deterministic=seed is not None)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.FILE
    return ds.with_options(options)
