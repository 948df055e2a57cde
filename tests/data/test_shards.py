"""`keras-gst shard` (Apache Beam DirectRunner) and `read_shards`, on real sample videos plus broken files.

References: PyAV decoding each video on its own (true frame counts), `keras_gst.data.decode` reading the
source video (pixels, compared within JPEG error), plain `tf.io.parse_sequence_example` with the documented
keys (no project code), and `build_dataset` on the source videos (same sampling and test views).
"""

import json
import os
import shutil
import sys

import av
import cv2
import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("apache_beam")

from cli_helpers import run_cli, run_python  # noqa: E402
from keras_gst.data import DataSpec, VideoRecord, build_dataset, decode, read_shards  # noqa: E402
from keras_gst.data.shard_reader import record_dataset  # noqa: E402
from keras_gst.data.shards import ShardError, pipeline_options, write_shards  # noqa: E402

SHORT = 64
GOOD = {"13201.webm": 0, "test.avi": 1}  # video -> label


def pyav_frames(path):
    """Every frame PyAV decodes (RGB), independent of the project's decoders."""
    with av.open(str(path)) as container:
        try:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        except av.FFmpegError:  # a cut file: PyAV stops where the data ends
            return []


@pytest.fixture(scope="module")
def videos(real_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    shutil.copy(real_data / "videos" / "sthv2" / "13201.webm", root / "13201.webm")
    shutil.copy(real_data / "videos" / "test.avi", root / "test.avi")
    webm = (real_data / "videos" / "sthv2" / "13201.webm").read_bytes()
    (root / "cut.webm").write_bytes(webm[: len(webm) // 2])  # truncated: the first 20 frames decode
    mp4 = (real_data / "videos" / "test.mp4").read_bytes()
    (root / "headless.mp4").write_bytes(mp4[:5000])  # cut before the index: unreadable
    (root / "empty.mp4").write_bytes(b"")
    (root / "garbage.mkv").write_bytes(b"not a video at all\n" * 20)
    labels = root.parent / "labels.txt"
    labels.write_text("13201.webm 0\ntest.avi 1\ncut.webm 0\nheadless.mp4 1\nempty.mp4 0\nnot_there.mp4 1\n")
    return root, labels


@pytest.fixture(scope="module")
def sharded(videos, tmp_path_factory):
    root, labels = videos
    out = tmp_path_factory.mktemp("shards") / "out"
    manifest = write_shards(root, out, num_shards=3, name="videos", labels=labels, short_side=SHORT, quality=95,
                            beam_args=["--direct_num_workers=2"])
    return out, manifest


def parse_all(out):
    """Every record of OUT's shards, parsed with plain tf.io.parse_sequence_example and the documented keys."""
    files = sorted(str(p) for p in out.glob("*.tfrecord"))
    records = {}
    for serialized in tf.data.TFRecordDataset(files):
        context, sequence, _ = tf.io.parse_sequence_example(
            serialized[None],
            context_features={"clip/label/index": tf.io.FixedLenFeature([], tf.int64),
                              "clip/label/string": tf.io.FixedLenFeature([], tf.string),
                              "clip/media_id": tf.io.FixedLenFeature([], tf.string)},
            sequence_features={"image/encoded": tf.io.FixedLenSequenceFeature([], tf.string)})
        media_id = context["clip/media_id"][0].numpy().decode()
        assert media_id not in records, f"{media_id} written twice"
        records[media_id] = (int(context["clip/label/index"][0]), sequence["image/encoded"][0].numpy())
    return records


def test_every_good_video_once_with_its_true_frame_count(videos, sharded):
    root, _ = videos
    out, manifest = sharded
    names = sorted(p.name for p in out.iterdir())
    assert names == ["failed.tsv", "manifest.json"] + [f"videos-0000{i}-of-00003.tfrecord" for i in range(3)]
    records = parse_all(out)
    expected = {"13201.webm": 0, "test.avi": 1, "cut.webm": 0}
    assert set(records) == {str(root / v) for v in expected}
    for video, label in expected.items():
        got_label, jpegs = records[str(root / video)]
        assert got_label == label
        true_count = len(pyav_frames(root / video))
        assert true_count > 0 and len(jpegs) == true_count, video
    assert len(records[str(root / "cut.webm")][1]) < 49  # the container claims 49: not trusted
    assert manifest["num_videos"] == 3 and manifest["num_failed"] == 4
    assert sorted(manifest["videos"]) == sorted([str(root / v), len(records[str(root / v)][1]), lab]
                                                for v, lab in expected.items())
    assert [t[0] for t in manifest["truncated"]] == [str(root / "cut.webm")]


def test_failures_listed_with_reasons(videos, sharded):
    root, labels = videos
    out, _ = sharded
    lines = (out / "failed.tsv").read_text().splitlines()
    assert lines[0] == "source\treason"
    reasons = dict(line.split("\t", 1) for line in lines[1:])
    assert set(reasons) == {str(root / n) for n in ("headless.mp4", "empty.mp4", "garbage.mkv", "not_there.mp4")}
    assert "empty (0 bytes)" in reasons[str(root / "empty.mp4")]
    assert "cannot decode" in reasons[str(root / "garbage.mkv")]
    assert "cannot decode" in reasons[str(root / "headless.mp4")]
    assert f"listed in {labels} but not found" in reasons[str(root / "not_there.mp4")]
    # garbage.mkv is in the folder but not in the label list: reported (and it failed anyway)
    assert json.loads((out / "manifest.json").read_text())["unlabeled"] == [str(root / "garbage.mkv")]


def test_frames_equal_the_source_within_jpeg_error(videos, sharded):
    root, _ = videos
    records = parse_all(sharded[0])
    for video in ("13201.webm", "test.avi"):
        jpegs = records[str(root / video)][1]
        source = decode.read_video_frames(str(root / video), np.arange(len(jpegs)))
        h, w = source.shape[1:3]
        size = (round(w * SHORT / min(h, w)), round(h * SHORT / min(h, w)))
        for i in (0, len(jpegs) // 2, len(jpegs) - 1):
            got = tf.io.decode_jpeg(jpegs[i]).numpy().astype(np.float64)
            want = cv2.resize(source[i], size, interpolation=cv2.INTER_AREA).astype(np.float64)
            assert got.shape == want.shape and min(got.shape[:2]) == SHORT
            psnr = 10 * np.log10(255**2 / np.mean((got - want) ** 2))
            assert psnr > 32, (video, i, psnr)  # measured 36-38 dB; a wrong frame gives 13-17 dB


def test_read_shards_feeds_build_dataset_like_the_videos(videos, sharded):
    root, _ = videos
    shards = read_shards(sharded[0])
    assert len(shards) == 3 and 1 <= len(shards.files) <= 3  # empty shards (0 bytes) are not read
    ds = build_dataset(shards, DataSpec(num_frames=4, scale_size=SHORT, crop_size=56), training=True, batch_size=3, num_classes=2, seed=0)
    x, y = next(iter(ds))
    assert x.shape == (3, 4, 56, 56, 3) and sorted(y.numpy().tolist()) == [0, 0, 1]
    # test views from the shards = test views from the source videos, within JPEG error
    views = dict(spec=DataSpec(num_frames=4, scale_size=SHORT, crop_size=56, num_clips=2, num_crops=3), batch_size=1,
                 num_classes=2)
    by_shards = {}
    for x, y in build_dataset(shards, **views):
        by_shards.setdefault(int(y[0]), []).append(x[0].numpy())
    good = [VideoRecord(str(root / v), None, label) for v, label in GOOD.items()]
    for record in good:
        (x, y), = build_dataset([record], **views)
        assert x.shape == (1, 6, 4, 56, 56, 3)
        # normalised pixels: 1/255/0.225 per grey level; JPEG q95 at 64 px is within a few levels on average
        assert min(np.abs(s - x[0].numpy()).mean() for s in by_shards[record.label]) < 4 / 255 / 0.225


def test_each_input_pipeline_reads_its_own_files(sharded, tmp_path):
    out = sharded[0]
    shards = read_shards(str(out / "*.tfrecord"))
    assert len(shards) == 3  # the pattern covers every shard: records from the manifest
    # one record a file (Beam spreads records over shards at random), then two input pipelines
    files = []
    for i, serialized in enumerate(tf.data.TFRecordDataset(shards.files)):
        files.append(str(tmp_path / f"one-{i}.tfrecord"))
        with tf.io.TFRecordWriter(files[-1]) as writer:
            writer.write(serialized.numpy())
    split = read_shards(files)
    assert sorted(r.path for r in split.records) == sorted(r.path for r in shards.records)  # by scanning
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline)
        ds = record_dataset(split, shuffle=False, input_context=context)
        assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.FILE
        seen.append([m.numpy().decode() for _, m, _ in ds])
    assert len(seen[0]) == 2 and len(seen[1]) == 1  # files 0, 2 and file 1
    assert sorted(seen[0] + seen[1]) == sorted(r.path for r in shards.records)
    context = tf.distribute.InputContext(num_input_pipelines=4, input_pipeline_id=0)
    with pytest.raises(ValueError, match="3 shard files for 4 input pipelines"):
        record_dataset(split, shuffle=False, input_context=context)
    one = next(f for f in sorted(out.glob("*.tfrecord")) if f.stat().st_size)  # a subset: records by scanning it
    subset = read_shards(str(one))
    assert len(subset) == sum(1 for _ in tf.data.TFRecordDataset(str(one))) >= 1


def test_a_damaged_frame_in_a_shard_is_skipped_or_named(sharded, tmp_path):
    from keras_gst.data import SkipLog
    from keras_gst.data.shards import sequence_example

    good = next(iter(tf.data.TFRecordDataset(read_shards(sharded[0]).files))).numpy()
    path = str(tmp_path / "mixed.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(good)
        writer.write(sequence_example([b"\xff\xd8 not jpeg data \xff\xd9"] * 5, "/videos/bad.mp4", 1))
    spec = DataSpec(num_frames=4, scale_size=SHORT, crop_size=56)
    options = dict(batch_size=1, num_classes=2)
    log = SkipLog()
    clips = list(build_dataset(read_shards(path), spec.replace(on_error="skip"), skip_log=log, **options))
    assert len(clips) == 1 and log.epochs[0][0][0] == "/videos/bad.mp4"
    assert "frame 0 of /videos/bad.mp4" in log.epochs[0][0][1] and "keras-gst shard" in log.epochs[0][0][1]
    with pytest.raises(tf.errors.OpError, match="cannot be decoded: frame .* of /videos/bad.mp4"):
        list(build_dataset(read_shards(path), spec, **options))


def test_refuses_a_non_empty_out_before_any_work(videos, tmp_path):
    root, _ = videos
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.tfrecord").write_bytes(b"x")
    with pytest.raises(ShardError, match="not empty.*--overwrite"):
        write_shards(root, out, num_shards=1)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging folder, nothing written


@pytest.mark.parametrize("runner, args, message", [
    ("NoSuchRunner", [], "bad runner 'NoSuchRunner'"),
    (None, ["--direct_num_workrs=2"], "unknown Beam pipeline option --direct_num_workrs=2 .*did you mean --direct_num_workers"),
    (None, ["--direct_running_mode=threads"], "bad Beam pipeline option.*invalid choice: 'threads'"),
    ("DirectRunner", ["--runner=FlinkRunner"], "disagree"),
])
def test_bad_runner_or_option_is_a_clear_error(runner, args, message):
    with pytest.raises(ShardError, match=message):
        pipeline_options(runner, args)


def test_direct_runner_defaults_to_multi_processing_on_every_core():
    from apache_beam.options.pipeline_options import DirectOptions

    options, runner = pipeline_options(None, [])
    direct = options.view_as(DirectOptions)
    assert runner == "DirectRunner" and direct.direct_running_mode == "multi_processing"
    assert direct.direct_num_workers == 0  # Beam: 0 = every core
    direct = pipeline_options(None, ["--direct_num_workers=3"])[0].view_as(DirectOptions)
    assert direct.direct_num_workers == 3


def shard_process(*args):
    """`keras-gst shard args` in a fresh process: its Beam worker processes write to the same stderr."""
    return run_python("-m", "keras_gst.cli", "shard", *args, env={"TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)


def test_cli_errors_exit_2_before_work(videos, tmp_path):
    root, _ = videos
    code, _, err = run_cli("shard", root, tmp_path / "out", "--shards", "1", "--runner", "Nope")
    assert code == 2 and "keras-gst shard: error: bad runner 'Nope'" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    code, _, err = run_cli("shard", root, tmp_path / "out", "--shards", "1", "--", "--no_such_option=1")
    assert code == 2 and "unknown Beam pipeline option --no_such_option=1" in err


def test_without_beam_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    with pytest.raises(ImportError, match=r'pip install "keras-gst\[beam\]"'):
        pipeline_options(None, [])


@pytest.mark.large
def test_cli_multi_processing_default_and_overwrite(videos, tmp_path):
    """The command as users run it (DirectRunner, multi-processing): class folders give the labels, a
    second run refuses the full OUT, --overwrite replaces it whole."""
    root, _ = videos
    folders = tmp_path / "classes"
    for video, label in GOOD.items():
        (folders / f"class{label}").mkdir(parents=True)
        shutil.copy(root / video, folders / f"class{label}" / video)
    out = tmp_path / "out"
    result = shard_process(folders, out, "--shards", "2", "--short-side", SHORT)
    assert result.returncode == 0, result.stderr[-3000:]
    # the worker processes' Python logging setup lines are dropped by the native-log filter
    assert "apitools not found" not in result.stderr and "Logging handler created" not in result.stderr
    assert "wrote 2 videos" in result.stdout and "0 failed" in result.stdout
    shards = read_shards(out)
    assert shards.class_names == ["class0", "class1"]
    assert {(os.path.basename(r.path), r.label) for r in shards.records} == set(GOOD.items())
    again = shard_process(folders, out, "--shards", "2")
    assert again.returncode == 2 and "not empty" in again.stderr
    result = shard_process(folders, out, "--shards", "1", "--short-side", SHORT, "--overwrite")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(out)) == ["classes-00000-of-00001.tfrecord", "failed.tsv", "manifest.json"]
    assert not [p for p in os.listdir(tmp_path) if ".partial-" in p or ".old-" in p]
