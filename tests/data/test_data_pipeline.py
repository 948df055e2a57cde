"""build_dataset on the real videos / frame folders, views, label swap, bad files. Tiny sizes (32 px)."""

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_gst.data import (
    Annotations,
    SkipLog,
    VideoRecord,
    DataSpec,
    build_dataset,
    read_label_map,
    read_list_file,
)

SMALL = DataSpec(num_frames=4, scale_size=36, crop_size=32)
REAL_VIDEOS = ["test.mp4", "test.avi", "demo.mp4", "bottle-detection.mp4", "sthv2/13201.webm"]


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def ssv2_names(real_data):
    return read_label_map(real_data / "annotations" / "sthv2" / "label_map.txt")


def real_frame_list(real_data):
    return read_list_file(real_data / "annotations" / "generic" / "list_gst_tab.txt",
                          root=real_data / "rawframes", class_names=ssv2_names(real_data))


def test_frame_folders_training_and_eval(real_data):
    ann = real_frame_list(real_data)
    train = batches(build_dataset(ann, SMALL.replace(template="auto"), training=True, batch_size=2, seed=0))
    assert [x.shape for x, _ in train] == [(2, 4, 32, 32, 3)] * 2
    assert sorted(np.concatenate([y for _, y in train]).tolist()) == [10, 32, 68, 79]
    assert train[0][0].dtype == np.float32 and -2.2 < train[0][0].min() < train[0][0].max() < 2.7
    evals = batches(build_dataset(ann, SMALL.replace(template="auto"), batch_size=3))
    assert [x.shape for x, _ in evals] == [(3, 4, 32, 32, 3), (1, 4, 32, 32, 3)]
    assert np.concatenate([y for _, y in evals]).tolist() == [10, 68, 79, 32]  # eval keeps the order


def test_every_real_video(real_data):
    records = [VideoRecord(str(real_data / "videos" / name), None, i) for i, name in enumerate(REAL_VIDEOS)]
    (x, y), = batches(build_dataset(records, SMALL, batch_size=5))
    assert x.shape == (5, 4, 32, 32, 3) and y.tolist() == [0, 1, 2, 3, 4]
    assert np.all(x.std(axis=(1, 2, 3, 4)) > 0.1)  # real content, not blank frames
    (x, y), = batches(build_dataset(records, SMALL, batch_size=5, training=True, seed=1))
    assert x.shape == (5, 4, 32, 32, 3) and sorted(y.tolist()) == [0, 1, 2, 3, 4]


def test_mmaction2_video_list_and_offsets(real_data, tmp_path):
    ann = real_data / "annotations" / "mmaction2"
    vids = read_list_file(ann / "video_test_list.txt", root=real_data / "videos")
    (x, y), = batches(build_dataset(vids, SMALL, batch_size=2))
    assert x.shape == (2, 4, 32, 32, 3) and y.tolist() == [0, 0]
    # `imgs 2 5 127`: frames 3..7 of imgs/ == a folder holding copies of img_00003..7 as 1..5
    offset = read_list_file(ann / "rawframe_test_list_with_offset.txt", root=real_data / "rawframes",
                            with_offset=True)
    copy = tmp_path / "copy"
    copy.mkdir()
    for i in range(5):
        shutil.copy(real_data / "rawframes" / "imgs" / f"img_{i + 3:05d}.jpg", copy / f"img_{i + 1:05d}.jpg")
    spec = DataSpec(num_frames=5, scale_size=36, crop_size=32, template="img_{:05d}.jpg")
    (a, _), _ = batches(build_dataset(offset, spec, batch_size=1))
    (b, _), = batches(build_dataset([VideoRecord(str(copy), 5, 127)], spec, batch_size=1))
    np.testing.assert_array_equal(a, b)
    multi = read_list_file(ann / "rawframe_test_list_multi_label.txt", root=real_data / "rawframes",
                           multi_label=True)
    (x, y), = batches(build_dataset(multi, SMALL.replace(template="img_{:05d}.jpg"), batch_size=2, num_classes=6))
    np.testing.assert_array_equal(y, [[0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 1]])


def test_test_views(real_data):
    records = [VideoRecord(str(real_data / "videos" / "test.avi"), None, 3)]
    (single, _), = batches(build_dataset(records, SMALL, batch_size=1))
    (views, y), = batches(build_dataset(records, SMALL.replace(num_clips=2, num_crops=10), batch_size=1))
    assert views.shape == (1, 20, 4, 32, 32, 3) and y.tolist() == [3]
    np.testing.assert_allclose(views[0, 4], single[0], atol=1e-5)  # clip 0, centre crop = single view
    np.testing.assert_allclose(views[0, 5:10], views[0, 0:5, ..., ::-1, :], atol=1e-5)  # flipped crops
    assert np.abs(views[0, 10 + 4] - views[0, 4]).mean() > 0.01  # clip 1 samples other frames
    (three, _), = batches(build_dataset(records, SMALL.replace(num_clips=1, num_crops=3), batch_size=1))
    assert three.shape == (1, 3, 4, 32, 32, 3)
    np.testing.assert_allclose(three[0, 1], single[0], atol=1e-5)
    # the views are the evaluation's: training with the same spec takes one random view per clip
    (train, _), = batches(build_dataset(records, SMALL.replace(num_clips=2, num_crops=10), training=True, batch_size=1))
    assert train.shape == (1, 4, 32, 32, 3)


def write_folder(folder, image, count):
    folder.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i + 1:05d}.jpg"), image)


def gradient_folder(tmp_path, name="clip"):
    """Frames darkening from left to right: any crop shows whether it was flipped."""
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = (252 - 4 * np.arange(64))[None, :, None]
    write_folder(tmp_path / name, image, 6)
    return str(tmp_path / name)


def test_same_crop_and_flip_for_every_frame(tmp_path):
    folder = gradient_folder(tmp_path)
    ds = build_dataset([VideoRecord(folder, 6, 0)] * 16, SMALL.replace(flip=True), training=True, batch_size=16, seed=3)
    (x, _), = batches(ds)
    np.testing.assert_allclose(x, np.broadcast_to(x[:, :1], x.shape), atol=1e-6)  # frames identical
    assert len({tuple(np.round(clip[0, 16, :, 0], 3)) for clip in x}) > 3  # but crops differ per clip


def test_flip_swaps_left_right_labels(tmp_path, real_data):
    folder = gradient_folder(tmp_path)
    names = ssv2_names(real_data)
    records = [VideoRecord(folder, 6, 86)] * 12 + [VideoRecord(folder, 6, 166)] * 12 + [VideoRecord(folder, 6, 5)] * 8
    (x, y), = batches(build_dataset(Annotations(records, names), SMALL, training=True, batch_size=32, seed=0, shuffle=False))
    flipped = x[:, 0, :, :4, 0].mean(axis=(1, 2)) < x[:, 0, :, -4:, 0].mean(axis=(1, 2))  # bright side on the right
    expected = np.array([86] * 12 + [166] * 12 + [5] * 8)
    swapped = np.where(expected == 86, 87, np.where(expected == 166, 167, 5))
    np.testing.assert_array_equal(y, np.where(flipped, swapped, expected))
    assert 0 < flipped.sum() < 32


def test_no_flip_for_direction_classes_without_mirrors(tmp_path):
    folder = gradient_folder(tmp_path)
    names = ["turning left", "waving"]
    records = [VideoRecord(folder, 6, 0)] * 16
    (x, y), = batches(build_dataset(Annotations(records, names), SMALL, training=True, batch_size=16, seed=0))
    assert np.all(x[:, 0, :, :4, 0].mean(axis=(1, 2)) > x[:, 0, :, -4:, 0].mean(axis=(1, 2)))
    with pytest.raises(ValueError, match="no mirror class"):
        build_dataset(Annotations(records, names), SMALL.replace(flip=True), training=True)


def test_seed_makes_training_repeatable(real_data):
    ann = real_frame_list(real_data)
    kw = dict(training=True, batch_size=4)
    spec = SMALL.replace(template="auto")
    a = batches(build_dataset(ann, spec, seed=5, **kw))
    b = batches(build_dataset(ann, spec, seed=5, **kw))
    c = batches(build_dataset(ann, spec, seed=6, **kw))
    np.testing.assert_array_equal(a[0][0], b[0][0])
    np.testing.assert_array_equal(a[0][1], b[0][1])
    assert not np.array_equal(a[0][0], c[0][0])
    ds = build_dataset(ann, spec, seed=5, **kw)
    first, second = batches(ds), batches(ds)
    assert not np.array_equal(first[0][0], second[0][0])  # new crops / order every epoch


def test_distribute_input_context(real_data):
    ann = real_frame_list(real_data)
    seen = []
    for pipeline in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        out = batches(build_dataset(ann, SMALL.replace(template="auto"), batch_size=4, input_context=ctx))
        assert [x.shape[0] for x, _ in out] == [2]  # per-replica batch
        seen += out[0][1].tolist()
    assert sorted(seen) == [10, 32, 68, 79]
    strategy = tf.distribute.get_strategy()
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: build_dataset(ann, SMALL.replace(template="auto"), batch_size=4, input_context=ctx))
    assert sum(int(tf.shape(y)[0]) for _, y in dist) == 4


def bad_videos(real_data, tmp_path):
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 10000, dtype=np.uint8).tobytes())
    return {"zero": zero, "corrupt": corrupt, "missing": tmp_path / "missing.mp4"}


@pytest.mark.parametrize("kind", ["zero", "corrupt", "missing"])
def test_bad_video_raises_naming_the_file(real_data, tmp_path, kind):
    path = bad_videos(real_data, tmp_path)[kind]
    records = [VideoRecord(str(real_data / "videos" / "test.avi"), None, 0), VideoRecord(str(path), None, 1)]
    with pytest.raises(tf.errors.OpError, match=path.name):
        batches(build_dataset(records, SMALL, batch_size=2))


def test_bad_videos_are_skipped_counted_and_reported(real_data, tmp_path, caplog):
    bad = bad_videos(real_data, tmp_path)
    records = [VideoRecord(str(real_data / "videos" / "test.avi"), None, 0)]
    records += [VideoRecord(str(p), None, 1) for p in bad.values()]
    log = SkipLog()
    ds = build_dataset(records, SMALL.replace(on_error="skip"), batch_size=4, skip_log=log)
    with caplog.at_level(logging.WARNING):
        (x, y), = batches(ds)
    assert x.shape == (1, 4, 32, 32, 3) and y.tolist() == [0]
    assert sorted(p.rsplit("/", 1)[1] for p, _ in log.epochs[0]) == ["corrupt.mp4", "missing.mp4", "zero.mp4"]
    assert "3 of 4 items were skipped this epoch" in caplog.text
    batches(ds)
    assert [len(e) for e in log.epochs] == [3, 3] and log.total == 3  # reported every epoch, counted once


def test_bad_frame_folder_entries(real_data, tmp_path):
    good = real_data / "rawframes" / "gst_style" / "57082"
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    data = (broken / "00020.jpg").read_bytes()
    (broken / "00020.jpg").write_bytes(data[: len(data) // 3])
    records = [VideoRecord(str(good), 38, 0), VideoRecord(str(broken), 38, 1),
               VideoRecord(str(tmp_path / "no_folder"), 10, 2)]
    with pytest.raises(tf.errors.OpError, match=r"truncated \(no end marker\): .*broken/00020\.jpg"):
        batches(build_dataset(records[:2], DataSpec(num_frames=38, scale_size=36, crop_size=32), batch_size=2))
    log = SkipLog()
    (x, y), = batches(build_dataset(records, DataSpec(num_frames=38, scale_size=36, crop_size=32, on_error="skip"), batch_size=3, skip_log=log))
    assert y.tolist() == [0]
    reasons = " ".join(r for _, r in log.epochs[0])
    assert "broken/00020.jpg" in reasons and "frame folder not found" in reasons and "no_folder" in reasons


def test_short_frame_folder_is_sampled_from_present_frames(real_data, caplog):
    folder = str(real_data / "rawframes" / "gst_style" / "57082")
    with caplog.at_level(logging.WARNING):
        (x, _), = batches(build_dataset([VideoRecord(folder, 60, 0)], SMALL, batch_size=1))
    assert x.shape == (1, 4, 32, 32, 3)
    assert "57082: the annotation says 60 frames, 38 are present" in caplog.text


def test_clips_longer_than_the_video_repeat_frames_with_a_warning(real_data, tmp_path, caplog):
    video = tmp_path / "three.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 80 * i, np.uint8))
    writer.release()
    folder = str(real_data / "rawframes" / "imgs")
    with caplog.at_level(logging.WARNING):
        (x, _), = batches(build_dataset([VideoRecord(str(video), None, 0)], SMALL, batch_size=1))
        (y, _), = batches(build_dataset([VideoRecord(folder, None, 0)], DataSpec(template="img_{:05d}.jpg", num_frames=16, scale_size=36, crop_size=32), batch_size=1))
    assert x.shape == (1, 4, 32, 32, 3) and y.shape == (1, 16, 32, 32, 3)
    # T=4 over 3 frames: indices 0, 1, 1, 2 (order kept, one repeat)
    np.testing.assert_allclose(x[0, 1], x[0, 2])
    assert x[0, 0].mean() < x[0, 1].mean() < x[0, 3].mean()
    assert "three.mp4 has 3 frames, fewer than the 4 a clip spans" in caplog.text
    assert "imgs has 10 frames, fewer than the 16 a clip spans" in caplog.text


def test_argument_errors(real_data, tmp_path):
    ann = real_frame_list(real_data)
    with pytest.raises(ValueError, match="freeze"):
        build_dataset(ann, training=True, cache=True)
    with pytest.raises(ValueError, match="mix video files and frame folders"):
        build_dataset(ann.records + [VideoRecord(str(real_data / "videos" / "test.avi"), None, 0)])
    with pytest.raises(TypeError, match="DataSpec"):
        build_dataset(ann, dict(num_frames=4))
    with pytest.raises(ValueError, match="label 79 is out of range for num_classes=50"):
        build_dataset(ann, num_classes=50)


MIRRORED_SCRIPT = r"""
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_gst.data import DataSpec, build_dataset, read_list_file
ann = read_list_file(sys.argv[1], root=sys.argv[2])
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
spec = DataSpec(num_frames=2, scale_size=36, crop_size=32, template="auto")
dist = strategy.distribute_datasets_from_function(lambda ctx: build_dataset(ann, spec, batch_size=4, input_context=ctx))
labels = []
for x, y in dist:
    parts = strategy.experimental_local_results(y)
    assert [tuple(p.shape) for p in parts] == [(2,), (2,)], parts
    assert [tuple(p.shape) for p in strategy.experimental_local_results(x)] == [(2, 2, 32, 32, 3)] * 2
    labels += [int(v) for p in parts for v in p.numpy()]
print(sorted(labels))
"""


@pytest.mark.large
def test_mirrored_strategy_two_replicas(real_data):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(real_data / "annotations" / "generic" / "list_gst_tab.txt"),
         str(real_data / "rawframes")], capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[2])  # the repository, importable without installing
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[10, 32, 68, 79]"


def tiny_folders(tmp_path, corrupt_jpeg, count=4, frames=3):
    """`count` frame folders of `frames` 24x32 JPEGs; frame 2 of clip2 damaged inside its image data."""
    rng = np.random.default_rng(0)
    folders = []
    for c in range(count):
        folder = tmp_path / f"clip{c}"
        write_folder(folder, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), frames)
        folders.append(folder)
    bad = folders[2] / "00002.jpg"
    bad.write_bytes(corrupt_jpeg(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)))
    return folders, bad


def test_corrupt_jpeg_mid_stream_raises_naming_the_file(tmp_path, corrupt_jpeg):
    folders, bad = tiny_folders(tmp_path, corrupt_jpeg)
    records = [VideoRecord(str(f), 3, i) for i, f in enumerate(folders)]
    with pytest.raises(tf.errors.OpError) as info:
        batches(build_dataset(records, DataSpec(num_frames=3, scale_size=36, crop_size=32), batch_size=4))
    message = str(info.value)
    assert "frame JPEG is corrupt (marker 0x" in message
    assert f": {bad}; re-extract the frames of {folders[2]} (`keras-gst extract-frames`)" in message


def test_corrupt_jpeg_mid_stream_is_skipped_and_counted(tmp_path, corrupt_jpeg, caplog):
    folders, bad = tiny_folders(tmp_path, corrupt_jpeg)
    records = [VideoRecord(str(f), 3, i) for i, f in enumerate(folders)]
    log = SkipLog()
    ds = build_dataset(records, DataSpec(num_frames=3, scale_size=36, crop_size=32, on_error="skip"), batch_size=4, training=True, seed=0, drop_remainder=False, skip_log=log)
    with caplog.at_level(logging.WARNING):
        (x, y), = batches(ds)
    assert x.shape == (3, 3, 32, 32, 3) and sorted(y.tolist()) == [0, 1, 3]
    assert [len(e) for e in log.epochs] == [1]
    (path, reason), = log.epochs[0]
    assert path == str(folders[2]) and str(bad) in reason and "corrupt" in reason
    assert "1 of 4 items were skipped this epoch" in caplog.text
    (x, y), = batches(ds)  # the next epoch goes on, and skips it again
    assert sorted(y.tolist()) == [0, 1, 3] and [len(e) for e in log.epochs] == [1, 1] and log.total == 1


def test_real_frame_folder_clip_is_the_pil_frames_transformed(real_data):
    from PIL import Image

    from keras_gst.data import sample_indices, transforms

    folder = real_data / "rawframes" / "imgs"
    (x, _), = batches(build_dataset([VideoRecord(str(folder), 10, 0)], SMALL.replace(template="img_{:05d}.jpg"), batch_size=1))
    # TSN test sampling, written out: the middle frame of each of 4 equal segments of 10 frames
    indices = [int(10 / 4 * k + 10 / 8) for k in range(4)]
    assert indices == [1, 3, 6, 8] and list(sample_indices(10, 4, training=False)) == indices
    # The authors' evaluation view with PIL: short side 240 -> 36 (320 -> int(320 * 36 / 240) = 48), bilinear
    # (antialiased), centre crop 32 at top round(4 / 2) = 2, left round(16 / 2) = 8, then ImageNet normalisation
    expected = []
    for i in indices:
        image = Image.open(folder / f"img_{i + 1:05d}.jpg").convert("RGB").resize((48, 36), Image.BILINEAR)
        expected.append(np.asarray(image, np.float32)[2:34, 8:40])
    expected = (np.stack(expected) / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    # PIL and TensorFlow round the resized pixels separately: at most one grey level apart (1 / 255 / std)
    np.testing.assert_allclose(x[0], expected, atol=1.01 / 255 / 0.224 + 1e-6)
    assert np.mean(np.abs(x[0] - expected)) < 0.3 / 255 / 0.224
