"""Silent wrong results of the data path (issue 24's adversarial trial), each reproduced on the old code:
a gap in a frame folder, a UTF-8 byte-order mark, JSON of the wrong shape, a frame folder deleted during
`extract-frames`, impossible `shard` numbers, a training dataset with fewer clips than one batch."""

import json
import os

import cv2
import numpy as np
import pytest

from keras_gst.data import annotations as A
from keras_gst.data import decode as D
from keras_gst.data import extract
from keras_gst.data import synthetic as S
from keras_gst.errors import ParameterError


def _frames(folder, numbers, size=16):
    os.makedirs(folder, exist_ok=True)
    for n in numbers:
        cv2.imwrite(os.path.join(folder, f"{n:05d}.jpg"), np.full((size, size, 3), 10 * n, np.uint8))
    return str(folder)


def test_a_gap_in_a_frame_folder_is_an_error_naming_the_missing_frame(tmp_path):
    """Before: 00004.jpg missing, frames 1-3 and 5-8 present: the folder counted 3 frames and the last
    4 were never read, without a word."""
    folder = _frames(tmp_path / "clip", [1, 2, 3, 5, 6, 7, 8])
    with pytest.raises(A.FrameGapError, match=r"clip: frame 00004.jpg is missing, but 4 later frames are present "
                                              r"\(00005.jpg to 00008.jpg\)"):
        A.count_frames_in_folder(folder)
    with pytest.raises(D.VideoDecodeError, match="00004.jpg is missing"):  # the pipeline's on_error error
        D.folder_frame_count(folder)
    # frames before start_index, other templates and other files are not gaps
    whole = _frames(tmp_path / "whole", range(0, 6))
    open(os.path.join(whole, "notes.txt"), "w").close()
    open(os.path.join(whole, "img_00009.jpg"), "w").close()
    assert A.count_frames_in_folder(whole) == 5 and A.count_frames_in_folder(whole, start_index=0) == 6
    # an annotation reader that counts frames: a bad entry (raised, or a counted skip)
    root = tmp_path / "sthv1"
    _frames(root / "1", [1, 2, 3, 5])
    _frames(root / "2", [1, 2, 3])
    (tmp_path / "labels.csv").write_text("a\nb\n")
    (tmp_path / "split.csv").write_text("1;a\n2;b\n")
    with pytest.raises(A.AnnotationError, match=r"split.csv, line 1: .*00004.jpg is missing"):
        A.read_sthv1(tmp_path / "split.csv", tmp_path / "labels.csv", root)
    skipped = A.read_sthv1(tmp_path / "split.csv", tmp_path / "labels.csv", root, on_error="skip")
    assert [(os.path.basename(r.path), r.num_frames) for r in skipped.records] == [("2", 3)]
    assert len(skipped.skipped) == 1


def test_a_gap_makes_extract_frames_redo_the_folder(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    S.write_video(str(videos / "v.mp4"), np.zeros((6, 32, 32, 3), np.uint8))
    out = tmp_path / "frames"
    extract.extract_frames(str(videos), str(out), workers=1, progress=False)
    os.remove(out / "v" / "00003.jpg")
    (result,) = extract.extract_frames(str(videos), str(out), workers=1, progress=False)
    assert not result.resumed and result.num_frames == 6 and (out / "v" / "00003.jpg").is_file()


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_entry(tmp_path):
    """Before: a list written by a Windows editor gave the path '\\ufeffclip' (not found) and a class named
    '\\ufeffPushing'; a BOM before JSON was 'invalid JSON'."""
    bom = "\ufeff"
    (tmp_path / "clip").mkdir()
    (tmp_path / "list.txt").write_text(bom + "clip 4 1\n", encoding="utf-8")
    (record,) = A.read_list_file(tmp_path / "list.txt").records
    assert record.path == os.path.join(str(tmp_path), "clip") and record.label == 1
    (tmp_path / "names.txt").write_text(bom + "Pushing\nPulling\n", encoding="utf-8")
    assert A.read_label_map(tmp_path / "names.txt") == ["Pushing", "Pulling"]
    (tmp_path / "labels.json").write_text(bom + json.dumps({"Pushing": "0"}), encoding="utf-8")
    (tmp_path / "train.json").write_text(bom + json.dumps([{"id": "7", "template": "Pushing"}]), encoding="utf-8")
    ann = A.read_sthv2(tmp_path / "train.json", tmp_path / "labels.json", tmp_path, check_files=False)
    assert ann.class_names == ["Pushing"] and [r.label for r in ann.records] == [0]


def test_json_of_the_wrong_shape_is_an_error_naming_the_file(tmp_path):
    """Before: an SSv2 split that is a JSON object raised `TypeError: string indices must be integers`."""
    (tmp_path / "labels.json").write_text(json.dumps({"Pushing": "0"}))
    (tmp_path / "split.json").write_text(json.dumps({"id": "1", "template": "Pushing"}))
    with pytest.raises(A.AnnotationError, match=r"split.json: expected a JSON list of video entries .* holds a JSON "
                                                r"object"):
        A.read_sthv2(tmp_path / "split.json", tmp_path / "labels.json", tmp_path, check_files=False)
    (tmp_path / "list.json").write_text(json.dumps(["Pushing"]))
    with pytest.raises(A.AnnotationError, match="list.json: expected a JSON object of class names"):
        A.read_sthv2(tmp_path / "split.json", tmp_path / "list.json", tmp_path, check_files=False)
    (tmp_path / "split.json").write_text(json.dumps([{"id": "1", "template": "Pushing"}, "2"]))
    with pytest.raises(A.AnnotationError, match=r"split.json, entry 1: no 'id'"):
        A.read_sthv2(tmp_path / "split.json", tmp_path / "labels.json", tmp_path, check_files=False)
    (tmp_path / "vocab.json").write_text(json.dumps({"Back": 0}))
    with pytest.raises(A.AnnotationError, match="vocab.json: expected a JSON list of sub-label lists"):
        A.read_diving48(tmp_path / "split.json", tmp_path / "vocab.json", tmp_path)


def test_the_list_never_names_a_folder_deleted_during_extract_frames(tmp_path, monkeypatch):
    """Before: OUT's folders deleted while later videos were extracted, frames_list.txt still named them."""
    import shutil

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(3):
        S.write_video(str(videos / f"v{i}.mp4"), np.zeros((4, 32, 32, 3), np.uint8))
    out = tmp_path / "frames"
    extract_video = extract.extract_video

    def then_delete_the_first(video, folder, **kwargs):
        result = extract_video(video, folder, **kwargs)
        if os.path.basename(folder) == "v1":
            shutil.rmtree(out / "v0")
        return result

    monkeypatch.setattr(extract, "extract_video", then_delete_the_first)
    results = {os.path.basename(r.folder): r for r in extract.extract_frames(str(videos), str(out), workers=1,
                                                                              progress=False)}
    assert "v0 is gone" in results["v0"].error and not results["v1"].error
    listed = [line.split()[0] for line in (out / "frames_list.txt").read_text().splitlines()]
    assert listed == ["v1", "v2"]


@pytest.mark.parametrize("flag, value", [("--short-side", "-5"), ("--timeout", "-1"), ("--timeout", "0"),
                                         ("--shards", "0"), ("--quality", "101")])
def test_shard_refuses_impossible_numbers_at_parse_time(tmp_path, capsys, flag, value):
    """Before: `--short-side -5` and `--timeout -1` were accepted (the latter failed every video)."""
    from keras_gst.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["shard", str(tmp_path / "missing"), str(tmp_path / "out"), "--shards", "2",
                                   flag, value])
    assert exit_.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_write_shards_refuses_impossible_numbers_naming_the_argument(tmp_path):
    pytest.importorskip("apache_beam")
    from keras_gst.data.shards import write_shards

    for kwargs, param in (({"short_side": -5}, "short_side"), ({"timeout": -1}, "timeout"),
                          ({"num_shards": 0}, "num_shards")):
        with pytest.raises(ParameterError) as error:
            write_shards(str(tmp_path), str(tmp_path / "out"), **{"num_shards": 1, **kwargs})
        assert error.value.param == param
    assert not (tmp_path / "out").exists()


def test_fewer_clips_than_one_training_batch_is_an_error_naming_batch_size(tmp_path):
    """Before: docs/data.md's `build_dataset(read_shards(...), training=True, batch_size=24)` on 17 videos
    gave a dataset with no batch (drop_remainder) and `next(iter(ds))` raised StopIteration, no warning."""
    from keras_gst.data import DataSpec, VideoRecord, build_dataset

    records = [VideoRecord(_frames(tmp_path / f"c{i}", range(1, 5)), 4, i % 2) for i in range(5)]
    options = dict(spec=DataSpec(num_frames=2, scale_size=18, crop_size=16), training=True, seed=0)
    with pytest.raises(ParameterError, match="5 clips are fewer than one batch of 8") as error:
        build_dataset(records, batch_size=8, **options)
    assert error.value.param == "batch_size"
    # the training default drops the last partial batch (5 = 2 + 2 + 1); drop_remainder=False keeps it
    assert [int(x.shape[0]) for x, _ in build_dataset(records, batch_size=2, **options)] == [2, 2]
    kept = build_dataset(records, batch_size=8, drop_remainder=False, **options)
    assert [int(x.shape[0]) for x, _ in kept] == [5]
    repeated = build_dataset(records, batch_size=8, repeat=True, **options)
    assert int(next(iter(repeated))[0].shape[0]) == 8


def test_decoders_print_nothing_of_their_own_the_error_names_the_file(tmp_path):
    """Before: `[mov,mp4,... @ 0x...] moov atom not found` and `[ WARN:0@8.5] global cap.cpp:212 open
    VIDEOIO(FFMPEG): ...` on stderr (FFmpeg and OpenCV, naming no file) before our own error. A fresh
    process: OpenCV reads FFmpeg's log level once (here at the first write, as in the synthetic demo)."""
    import subprocess
    import sys

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 100)
    code = f"""
import numpy as np
from keras_gst.data import decode, synthetic
synthetic.write_video({str(tmp_path / "ok.mp4")!r}, np.zeros((2, 32, 32, 3), np.uint8))
try:
    decode.read_video_frames({str(bad)!r}, [0], timeout=10)
except decode.VideoDecodeError as e:
    print("error:", e)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert "error: cannot decode video" in result.stdout and "broken.mp4" in result.stdout, result
    assert "moov" not in result.stderr and "[ WARN" not in result.stderr and "@ 0x" not in result.stderr, result.stderr


def test_extract_frames_shows_no_bar_off_a_terminal(tmp_path, capsys):
    """Before: a tqdm bar was written to a non-terminal stderr (logs, CI) on every update; now a bar on
    a terminal only (tqdm's `disable=None`), and the command prints its one summary line."""
    videos = tmp_path / "videos"
    videos.mkdir()
    S.write_video(str(videos / "v.mp4"), np.zeros((4, 32, 32, 3), np.uint8))
    (result,) = extract.extract_frames(str(videos), str(tmp_path / "frames"), workers=1, progress=True)
    assert not result.error and "extract-frames" not in capsys.readouterr().err


def test_a_negative_label_is_a_counted_skip_and_an_empty_class_file_an_error(tmp_path):
    """Before: `eval` on a list with label -3 ended in a ValueError traceback from the metrics; an empty
    class file made every entry "out of range [0, 0)" and the error blamed the list."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "list.txt").write_text("a 4 -3\nb 4 1\n")
    ann = A.read_list_file(tmp_path / "list.txt", on_error="skip")  # as train / eval read lists
    assert [r.path for r in ann.records] == [os.path.join(str(tmp_path), "b")]
    assert len(ann.skipped) == 1 and "line 1: label -3 is negative" in ann.skipped[0]
    (tmp_path / "names.txt").write_text("\n \n")
    with pytest.raises(A.AnnotationError, match="names.txt: holds no class names"):
        A.read_label_map(tmp_path / "names.txt")
