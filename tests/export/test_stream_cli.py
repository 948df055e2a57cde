"""`keras-gst stream`: frame by frame on real videos, zero delay for a causal model, state reset between
inputs, bad input; `keras-gst predict --clips --crops` equals `keras-gst eval`'s multi-view logits."""

import json
import os

import numpy as np
import pytest

from keras_gst.cli import main

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5  # as tests/export/conftest.py
MAX_FRAMES = 10


@pytest.fixture(scope="module")
def causal_files(tmp_path_factory):
    """A causal tiny GST-R18 (.keras) and its fp32 streaming .tflite file."""
    import keras

    from keras_gst import GSTResNet18
    from keras_gst.export.streaming_tflite import convert_streaming_tflite

    keras.utils.set_random_seed(2)
    model = GSTResNet18(NUM_CLASSES, weights=None, num_frames=NUM_FRAMES, input_shape=(SIZE, SIZE, 3), causal=True)
    folder = tmp_path_factory.mktemp("causal")
    convert_streaming_tflite(model, str(folder / "stream.tflite"))
    model.save(str(folder / "causal.keras"))
    return model, str(folder / "stream.tflite"), str(folder / "causal.keras")


def _offline_running_probs(model, source, max_frames):
    """Independent reference: decode the first frames at once, crop them as the evaluation does, run the
    offline per-frame model on the whole sequence and average the logits cumulatively."""
    from keras_gst import GSTResNet18, per_frame_model
    from keras_gst.data import decode
    from keras_gst.export import normalize_clip
    from keras_gst.export.clips import crop_clips
    from keras_gst.export.predictor import softmax

    if os.path.isdir(source):
        template = decode.detect_template(source)
        n = min(max_frames, decode.folder_frame_count(source, template))
        frames = decode.read_frames(decode.frame_paths(source, range(n), template))
    else:
        frames = np.stack([f for _, f in zip(range(max_frames), decode.iter_video_frames(source))])
    any_t = GSTResNet18(NUM_CLASSES, weights=None, input_shape=(SIZE, SIZE, 3), causal=True)  # any T
    any_t.set_weights(model.get_weights())
    x = normalize_clip(crop_clips(frames, 1, SIZE)[:, 0])[None]
    logits = np.asarray(per_frame_model(any_t)(x, training=False), np.float64)[0]
    return softmax(np.cumsum(logits, axis=0) / np.arange(1, len(logits) + 1)[:, None])


def _stream_json(capsys, *argv):
    code = main(["stream", *argv, "--json"])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    return code, lines, captured.err


def test_stream_real_videos_frame_by_frame_with_reset(causal_files, real_data, capsys):
    model, tflite, _ = causal_files
    videos = [str(real_data / "videos" / "sthv2" / "13201.webm"), str(real_data / "rawframes" / "ssv2" / "13201"),
              str(real_data / "videos" / "test.avi")]
    code, lines, err = _stream_json(capsys, *videos, "--model", tflite, "--topk", "3", "--max-frames", str(MAX_FRAMES))
    assert code == 0, err
    for video in videos:
        mine = [line for line in lines if line["video"] == video]
        assert [line["frame"] for line in mine] == list(range(MAX_FRAMES))  # zero delay: one line per frame read
        assert all(line["ms"] > 0 and len(line["topk"]) == 3 for line in mine)
        ref = _offline_running_probs(model, video, MAX_FRAMES)
        for t, line in enumerate(mine):
            labels = [int(label) for label, _ in line["topk"]]
            assert labels[0] == int(np.argmax(ref[t]))
            np.testing.assert_allclose([p for _, p in line["topk"]], ref[t][labels], atol=1e-5)
    # the state is reset at each input: the last video alone gives the same lines
    code, alone, _ = _stream_json(capsys, videos[2], "--model", tflite, "--topk", "3", "--max-frames", str(MAX_FRAMES))
    assert code == 0
    strip = [[line["frame"], line["topk"]] for line in alone]
    assert strip == [[line["frame"], line["topk"]] for line in lines if line["video"] == videos[2]]


def test_stream_text_output_plot_and_keras_model(causal_files, real_data, tmp_path, capsys):
    _, _, keras_path = causal_files
    plot = tmp_path / "probs.png"
    code = main(["stream", str(real_data / "videos" / "sthv2" / "13201.webm"), "--model", keras_path,
                 "--max-frames", "6", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0
    assert "keras stream" in out and "delay 0 frames" in out
    assert sum(line.strip().startswith("frame ") for line in out.splitlines()) == 6
    assert "ms/frame" in out and plot.stat().st_size > 0


def test_stream_centred_model_flushes_every_frame(tiny_model, real_data, tmp_path, capsys):
    """A centred model (delay 16) still emits one line per frame: the flush returns the last 16."""
    path = str(tmp_path / "tiny.keras")
    tiny_model.save(path)
    code, lines, err = _stream_json(capsys, str(real_data / "rawframes" / "ssv2" / "13201"), "--model", path,
                                    "--max-frames", "5")
    assert code == 0, err
    assert [line["frame"] for line in lines] == list(range(5))


def test_stream_video_ending_early_is_a_counted_warning(causal_files, real_data, tmp_path, capsys):
    _, tflite, _ = causal_files
    data = (real_data / "videos" / "test.avi").read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[: len(data) * 2 // 5])  # the header still claims 164 frames
    code, lines, err = _stream_json(capsys, str(truncated), "--model", tflite)
    assert code == 0
    assert 0 < len(lines) < 164
    assert f"{truncated} ended early: {len(lines)} of the 164 frames" in err
    assert "1 input(s) ended early" in err


def test_stream_bad_inputs(causal_files, real_data, tflite_file, tmp_path, capsys):
    _, tflite, _ = causal_files
    video = str(real_data / "videos" / "sthv2" / "13201.webm")
    # a clip model is the wrong kind for `stream`, a streaming model the wrong kind for `predict`
    assert main(["stream", video, "--model", tflite_file("none")]) == 2
    assert "not a streaming model" in capsys.readouterr().err
    assert main(["predict", video, "--model", tflite]) == 2
    assert "keras-gst stream" in capsys.readouterr().err
    # a missing video among good ones: counted, named, exit 2; the good one is still streamed
    missing = str(tmp_path / "missing.mp4")
    code, lines, err = _stream_json(capsys, missing, video, "--model", tflite, "--max-frames", "2")
    assert code == 2 and "missing.mp4" in err and "1 of 2 input(s)" in err
    assert [line["video"] for line in lines] == [video, video]
    assert main(["stream", video, "--model", str(tmp_path / "nope.tflite")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_frame_of_the_wrong_size_is_an_error(causal_files):
    from keras_gst.export.stream_runner import load_stream

    stream = load_stream(causal_files[1])
    with pytest.raises(ValueError, match="takes frames of 64x64x3"):
        stream.step(np.zeros((32, 32, 3), np.float32), 1.0, stream.init_states())


@pytest.mark.parametrize("kind", ["keras", "tflite"])
def test_predict_multi_view_equals_eval(kind, tiny_model, tflite_file, real_data, tmp_path, capsys):
    video = real_data / "videos" / "sthv2" / "13201.webm"
    keras_path = str(tmp_path / "tiny.keras")
    tiny_model.save(keras_path)
    listing = tmp_path / "one.txt"
    listing.write_text(f"{video} 0\n")
    out_dir = tmp_path / "eval"
    code = main(["eval", keras_path, "--annotations", str(listing), "--num-classes", str(NUM_CLASSES),
                 "--clips", "2", "--crops", "3", "--scale-size", "73", "--output-dir", str(out_dir), "--json"])
    assert code == 0, capsys.readouterr().err
    eval_logits = np.load(out_dir / "scores.npz")["scores"][0]
    model = keras_path if kind == "keras" else tflite_file("none")
    code = main(["predict", str(video), "--model", model, "--clips", "2", "--crops", "3", "--topk", "5", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["views"] == 6
    got = {r["index"]: r["logit"] for r in result["topk"]}
    np.testing.assert_allclose([got[i] for i in range(NUM_CLASSES)], eval_logits, atol=1e-5, rtol=0)
    # and the average over views differs from the single centre view (the views are real)
    code = main(["predict", str(video), "--model", model, "--topk", "5", "--json"])
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    one = {r["index"]: r["logit"] for r in single["topk"]}
    assert max(abs(one[i] - got[i]) for i in range(NUM_CLASSES)) > 1e-7
