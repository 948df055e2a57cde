"""Faults in the data path: special files named like videos or frames, an open that never returns, two
`extract-frames` into one OUT at once, short frame folders, bad extract arguments, label -1, list paths
with spaces."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from keras_gst.data import decode as D
from keras_gst.data import synthetic as S
from keras_gst.data import video_readers
from keras_gst.data.annotations import AnnotationError, read_list_file
from keras_gst.data.extract import extract_frames

READERS = {
    "read_video_frames": lambda p: D.read_video_frames(p, [0], timeout=5),
    "count_video_frames": lambda p: D.count_video_frames(p, timeout=5),
    "iter_video_frames": lambda p: list(D.iter_video_frames(p, timeout=5)),
    "claimed_frame_count": lambda p: D.claimed_frame_count(p, timeout=5),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_fifo_named_mp4_is_refused_before_it_is_opened(tmp_path, reader):
    """Before: opening a FIFO blocks until a writer appears; predict / train / extract-frames hung."""
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    with pytest.raises(D.VideoDecodeError, match="not a regular file"):
        READERS[reader](str(fifo))
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    with pytest.raises(D.VideoDecodeError, match="is a directory"):
        READERS[reader](str(folder))


@pytest.mark.timeout(60)
def test_a_fifo_frame_in_a_frame_folder_is_refused(tmp_path):
    os.mkfifo(tmp_path / "00001.jpg")
    with pytest.raises(D.VideoDecodeError, match="not a regular file.*00001.jpg"):
        D.read_frames([str(tmp_path / "00001.jpg")])


@pytest.mark.timeout(60)
def test_opening_a_video_has_the_decode_deadline(tmp_path, monkeypatch):
    """An open that does not return (a hung file system, a device) ends at the deadline."""
    video = tmp_path / "clip.mp4"
    S.write_video(str(video), np.zeros((4, 32, 32, 3), np.uint8))
    release = threading.Event()
    opened = video_readers.OpenCVReader.__init__

    def hanging_open(self, path, timeout):
        release.wait(30)
        opened(self, path, timeout)

    monkeypatch.setattr(video_readers.OpenCVReader, "__init__", hanging_open)
    try:
        with pytest.raises(D.DecodeTimeoutError, match="opening .*clip.mp4 took longer"):
            D.read_video_frames(str(video), [0], timeout=0.3, backend="opencv")
    finally:
        release.set()


def _videos(root, count=6, frames=40):
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        clip = S.make_clip(i % 8, rng, frames, 48)
        S.write_video(os.path.join(root, f"v{i}.mp4"), np.ascontiguousarray(clip[..., ::-1]))
    return root


def _check_complete(out, videos, frames):
    listed = {line.split()[0]: int(line.split()[1]) for line in open(os.path.join(out, "frames_list.txt"))}
    assert listed == {f"v{i}": frames for i in range(videos)}
    for stem in listed:
        jpgs = [n for n in os.listdir(os.path.join(out, stem)) if n.endswith(".jpg")]
        assert len(jpgs) == frames, stem
        assert open(os.path.join(out, stem, ".done")).read().split()[0] == str(frames)


def test_a_second_extract_frames_into_one_out_is_refused_naming_the_first(tmp_path):
    """Before: two runs into one OUT wrote side by side (and earlier removed each other's folders); now the
    folder has one writer: a second run exits 2 at once, naming the holder, and writes nothing."""
    from keras_gst.locks import output_lock

    src, out = _videos(str(tmp_path / "videos"), count=2, frames=8), str(tmp_path / "frames")
    cmd = [sys.executable, "-m", "keras_gst.cli", "extract-frames", src, out, "--workers", "1", "--no-progress"]
    with output_lock(out, "the first extract-frames"):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
        assert done.returncode == 2, done
        assert f"pid {os.getpid()}" in done.stderr and "the first extract-frames" in done.stderr
        assert sorted(os.listdir(out)) == [".keras-gst.lock"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    _check_complete(out, 2, 8)


def test_a_rerun_repairs_a_short_folder(tmp_path):
    """Before: a folder with `.done` was trusted, whatever it held."""
    src, out = _videos(str(tmp_path / "videos"), count=2, frames=12), str(tmp_path / "frames")
    extract_frames(src, out, workers=1, progress=False)
    for name in ("00010.jpg", "00011.jpg", "00012.jpg"):
        os.remove(os.path.join(out, "v1", name))
    results = {os.path.basename(r.folder): r for r in extract_frames(src, out, workers=1, progress=False)}
    assert results["v0"].resumed and not results["v1"].resumed and results["v1"].num_frames == 12
    _check_complete(out, 2, 12)


def test_extract_frames_rejects_bad_arguments_before_work(tmp_path):
    src = _videos(str(tmp_path / "videos"), count=1, frames=4)
    out = tmp_path / "frames"
    with pytest.raises(FileNotFoundError, match="video_dir .*missing does not exist"):
        extract_frames(str(tmp_path / "missing"), str(out))
    with pytest.raises(ValueError, match="template 'frame.jpg' must number the frames"):
        extract_frames(src, str(out), template="frame.jpg")
    with pytest.raises(ValueError, match="short_side must be >= 0"):
        extract_frames(src, str(out), short_side=-1)
    assert not out.exists()  # nothing was written


def test_a_stem_with_spaces_round_trips_through_the_list_file(tmp_path):
    """Before: extract-frames wrote `my clip 4 -1`, which its own list reader rejected."""
    src = tmp_path / "videos"
    src.mkdir()
    S.write_video(str(src / "my clip.mp4"), np.zeros((4, 32, 32, 3), np.uint8))
    out = tmp_path / "frames"
    (result,) = extract_frames(str(src), str(out), workers=1, progress=False)
    assert not result.error
    records = read_list_file(out / "frames_list.txt").records
    assert [(os.path.basename(r.path), r.num_frames, r.label) for r in records] == [("my clip", 4, -1)]


@pytest.mark.parametrize("line, expected", [
    ("my clip 4 1", ("my clip", 4, 1)),
    ("a b/c d 12 0", ("a b/c d", 12, 0)),
    ("plain 7 1", ("plain", 7, 1)),
    ("my video.mp4 1", ("my video.mp4", None, 1)),
    ("dir with space/v.mp4\t0", ("dir with space/v.mp4", None, 0)),
])
def test_list_paths_may_hold_spaces(tmp_path, line, expected):
    path = tmp_path / "list.txt"
    path.write_text(line + "\n")
    (record,) = read_list_file(path, check_files=False).records
    assert (os.path.relpath(record.path, tmp_path), record.num_frames, record.label) == expected


def test_label_minus_one_is_rejected_for_training_with_the_file_and_line(tmp_path):
    """Before: label -1 (what extract-frames writes without --labels) was accepted and crashed the
    training mid-epoch with a TF traceback naming no file."""
    from keras_gst.training import Recipe, fit

    src = _videos(str(tmp_path / "videos"), count=4, frames=4)
    video_list = tmp_path / "train.txt"
    video_list.write_text("".join(f"videos/v{i}.mp4 {-1 if i == 2 else i % 2}\n" for i in range(4)))
    recipe = Recipe(dataset="list", train_annotations=str(video_list), num_frames=2, scale_size=36, crop_size=32,
                    depth=18, weights=None, epochs=1, batch_size=2, output_dir=str(tmp_path / "run"),
                    strategy="default", verbose=0, seed=None)  # seed=None: leave the global RNG seeds alone
    with pytest.raises(AnnotationError, match=r"label -1 .*train.txt, line 3: .*v2.mp4"):
        fit(recipe)
    assert src


def test_skip_counts_are_distinct_files_and_list_paths_get_on_error(tmp_path):
    """Before: 2 bad files were reported as "10 unreadable items" after 5 passes (a sum over epochs);
    `build_dataset(path, on_error="skip")` read the list with on_error="raise"; an empty list's error
    named no file."""
    from keras_gst.data import DataSpec, SkipLog, build_dataset

    _videos(str(tmp_path / "videos"), count=4, frames=4)
    for i in (1, 2):
        (tmp_path / "videos" / f"v{i}.mp4").write_bytes(b"not a video " * 20)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"videos/v{i}.mp4 {i % 2}\n" for i in range(4)) + "videos/gone.mp4 0\n")
    log = SkipLog()
    ds = build_dataset(str(listing), DataSpec(num_frames=2, scale_size=36, crop_size=32, on_error="skip"), training=False, batch_size=2, skip_log=log)
    for _ in range(3):  # three passes over the data
        assert sum(int(x.shape[0]) for x, _ in ds) == 2
    assert [len(e) for e in log.epochs] == [2, 2, 2]
    assert log.total == 2 and [os.path.basename(f) for f in log.files] == ["v1.mp4", "v2.mp4"]
    log.add(log.files[0], "loaded again by a prefetch that ran ahead")
    log.add(log.files[0], "loaded again by a prefetch that ran ahead")
    assert log.end_epoch(4) == 1 and log.total == 2
    listing.write_text("# nothing here\n")
    with pytest.raises(ValueError, match="list.txt holds no usable clips"):
        build_dataset(str(listing), DataSpec(num_frames=2), training=False, batch_size=2)
