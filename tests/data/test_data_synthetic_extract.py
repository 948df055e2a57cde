"""The synthetic temporal dataset and `keras-gst extract-frames`."""

import shutil

import cv2
import numpy as np
import pytest

from keras_gst import cli
from keras_gst.data import DataSpec, build_dataset, derive_flip_map, read_list_file
from keras_gst.data import decode as D
from keras_gst.data import synthetic as S


def test_pairs_are_time_reversals():
    for label in range(0, 8, 2):
        forward = S.make_clip(label, np.random.default_rng(4), 6, 32)
        backward = S.make_clip(label + 1, np.random.default_rng(4), 6, 32)
        np.testing.assert_array_equal(backward, forward[::-1])
        assert np.abs(forward[0].astype(int) - forward[-1].astype(int)).mean() > 1  # it does move


def test_square_moves_left_to_right():
    clip = S.make_clip(0, np.random.default_rng(0), 5, 64)
    bright = clip.max(axis=-1) > 130
    centres = [np.flatnonzero(frame.any(axis=0)).mean() for frame in bright]
    assert np.all(np.diff(centres) > 0)


def test_write_synthetic_dataset(tmp_path):
    train, val, names = S.write_synthetic_dataset(tmp_path, num_videos_per_class=3, frames=6, size=32, seed=1)
    assert names == list(S.CLASS_NAMES)
    tr = read_list_file(train, class_names=tmp_path / "classes.txt")
    va = read_list_file(val, class_names=names)
    assert len(tr.records) == 24 and len(va.records) == 8
    assert sorted(r.label for r in va.records) == list(range(8))
    assert not {r.path for r in tr.records} & {r.path for r in va.records}
    for record in tr.records[:4]:
        assert D.count_video_frames(record.path) == 6
        assert D.read_video_frames(record.path, [0]).shape == (1, 32, 32, 3)
    # flipping mirrors left/right and clockwise/counterclockwise: labels swap in pairs
    assert derive_flip_map(names) == ({0: 1, 1: 0, 4: 5, 5: 4}, [])
    (x, y), = [(a.numpy(), b.numpy()) for a, b in build_dataset(tr, DataSpec(num_frames=4, scale_size=32, crop_size=28), training=True, batch_size=24, seed=0)]
    # random flips swap 0<->1 and 4<->5 (a clip keeps or swaps its label, per draw): compare up to the pairs
    pair = {0: 0, 1: 0, 4: 4, 5: 4}
    assert x.shape == (24, 4, 28, 28, 3)
    assert sorted(pair.get(v, v) for v in y.tolist()) == sorted(pair.get(r.label, r.label) for r in tr.records)
    again = S.write_synthetic_dataset(tmp_path / "again", num_videos_per_class=3, frames=6, size=32, seed=1)
    assert open(train).read() == open(again[0]).read()
    same = tr.records[0].path
    np.testing.assert_array_equal(D.read_video_frames(same, [2]),
                                  D.read_video_frames(same.replace(str(tmp_path), str(tmp_path / "again")), [2]))


def test_write_synthetic_dataset_rejects_odd_class_counts(tmp_path):
    with pytest.raises(ValueError, match="pairs"):
        S.write_synthetic_dataset(tmp_path, num_classes=3)


def test_extract_frames_cli(real_data, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(real_data / "videos" / "sthv2" / "13201.webm", videos)
    shutil.copy(real_data / "videos" / "test.avi", videos)
    (videos / "zero.mp4").write_bytes(b"")
    (videos / "corrupt.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 20)
    labels = tmp_path / "labels.txt"
    labels.write_text("13201.webm 79\ntest.avi 3\n")
    out = tmp_path / "frames"
    code = cli.main(["extract-frames", str(videos), str(out), "--workers", "1", "--no-progress",
                     "--labels", str(labels), "--short-side", "120"])
    printed = capsys.readouterr().out
    assert code == 1  # some videos failed
    assert f"FAILED    {videos / 'zero.mp4'}: VideoDecodeError: video file is empty" in printed
    assert f"FAILED    {videos / 'corrupt.mkv'}" in printed
    assert "extracted 2 of 4 videos (0 already done)" in printed
    assert (out / "frames_list.txt").read_text() == "13201 49 79\ntest 164 3\n"
    first = cv2.imread(str(out / "13201" / "00001.jpg"))
    assert first.shape == (120, 160, 3)
    assert not (out / "zero").exists() and not (out / "13201" / "00050.jpg").exists()
    frames = read_list_file(out / "frames_list.txt", root=out)
    assert [(r.num_frames, r.label) for r in frames.records] == [(49, 79), (164, 3)]
    # resumable: finished folders are kept, an unfinished one is redone
    (out / "test" / ".done").unlink()
    (out / "test" / "00005.jpg").unlink()
    marker = (out / "13201" / "00001.jpg").stat().st_mtime_ns
    code = cli.main(["extract-frames", str(videos), str(out), "--workers", "1", "--no-progress"])
    printed = capsys.readouterr().out
    assert "extracted 2 of 4 videos (1 already done)" in printed
    assert (out / "13201" / "00001.jpg").stat().st_mtime_ns == marker
    assert (out / "test" / "00005.jpg").exists() and D.folder_frame_count(str(out / "test")) == 164


def test_extract_frames_reports_truncated_videos(make_truncated_mp4, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    truncated = make_truncated_mp4(videos / "cut.mp4")
    code = cli.main(["extract-frames", str(videos), str(tmp_path / "out"), "--workers", "1", "--no-progress",
                     "--short-side", "64"])
    printed = capsys.readouterr().out
    n = D.count_video_frames(truncated)
    assert code == 0 and f"TRUNCATED {truncated}: container claims 280 frames, {n} decode (kept)" in printed
    assert (tmp_path / "out" / "frames_list.txt").read_text() == f"cut {n} -1\n"


@pytest.mark.large
def test_extract_frames_in_parallel_processes(real_data, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ["test.avi", "sthv2/13201.webm", "demo.mp4"]:
        shutil.copy(real_data / "videos" / name, videos)
    (videos / "zero.webm").write_bytes(b"")
    code = cli.main(["extract-frames", str(videos), str(tmp_path / "out"), "--workers", "2", "--no-progress",
                     "--short-side", "64"])
    printed = capsys.readouterr().out
    assert code == 1 and "FAILED    " in printed and "zero.webm" in printed
    assert (tmp_path / "out" / "frames_list.txt").read_text() == "13201 49 -1\ndemo 280 -1\ntest 164 -1\n"
