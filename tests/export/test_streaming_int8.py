"""int8 streaming TFLite: calibrated on real clips run frame by frame, all-integer by the op audit, rank <= 4
states, within the int8 gate against the fp32 stream and the offline model; the export CLI's exit code."""

import json

import numpy as np
import pytest

from keras_gst import per_frame_model
from keras_gst.export import check_int8, float_compute_ops, normalize_clip
from keras_gst.export.stream_runner import load_stream
from keras_gst.export.streaming_tflite import convert_streaming_tflite, streaming_parity
from keras_gst.export.tflite import PARITY_THRESHOLDS


@pytest.fixture(scope="module")
def int8_stream(tiny_model, real_clips, tmp_path_factory):
    """The centred tiny GST-R18 (delay 16) as an int8 stream, calibrated on 10 real clips."""
    path = str(tmp_path_factory.mktemp("stream_int8") / "stream_int8.tflite")
    convert_streaming_tflite(tiny_model, path, "int8", calibration_clips=real_clips[::2])
    return path


@pytest.mark.large
def test_int8_stream_is_all_integer_with_rank4_states(int8_stream):
    ops = check_int8(int8_stream)  # raises on a float CONV/FC or a Flex op
    assert not float_compute_ops(ops)
    assert sum(op.name == "CONV_2D" for op in ops) > 20 and sum(op.name == "FULLY_CONNECTED" for op in ops) == 1
    stream = load_stream(int8_stream)
    details = list(stream.runner.get_input_details().values()) + list(stream.runner.get_output_details().values())
    assert max(len(d["shape"]) for d in details) <= 4
    assert stream.delay == 16 and "state_clip_sum" not in stream.state_names


@pytest.mark.large
def test_int8_stream_within_gate_on_real_clips(tiny_model, int8_stream, real_clips):
    # independent reference: the offline per-frame Keras model on the parity clips (the other half)
    clips = real_clips[1::2]
    x = normalize_clip(clips)
    ref = np.asarray(per_frame_model(tiny_model)(x, training=False))
    stream = load_stream(int8_stream)
    got = np.stack([stream.run(clip)[0] for clip in x])
    max_rel, min_top1 = PARITY_THRESHOLDS["int8"]
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert rel <= max_rel
    assert np.mean(np.argmax(got, -1) == np.argmax(ref, -1)) >= min_top1
    assert rel > 1e-4  # it is quantized: not the fp32 stream
    report = streaming_parity(tiny_model, int8_stream, clips, "int8")
    assert report["passed"] and report["frames"]["clips"] == len(clips) * 4
    np.testing.assert_allclose(report["frames"]["rel_diff"], rel, rtol=1e-3)  # fp32 stream = offline to 1e-5


def test_streaming_int8_needs_real_calibration(tiny_model, real_clips, tmp_path):
    with pytest.raises(ValueError, match="calibration_clips"):
        convert_streaming_tflite(tiny_model, str(tmp_path / "s.tflite"), "int8")
    with pytest.raises(ValueError, match="frames"):
        convert_streaming_tflite(tiny_model, str(tmp_path / "s.tflite"), "int8", calibration_clips=real_clips[:, :, :32, :32])


@pytest.mark.large
def test_export_cli_streaming_int8_and_its_gate(real_sources, tmp_path, capsys):
    import keras

    from keras_gst import GSTResNet18
    from keras_gst.cli import main

    keras.utils.set_random_seed(4)
    model = GSTResNet18(5, weights=None, num_frames=4, input_shape=(64, 64, 3), causal=True)
    keras_path = str(tmp_path / "causal.keras")
    model.save(keras_path)
    out = str(tmp_path / "stream_int8.tflite")
    argv = ["export", "--format", "streaming", "--model", keras_path, "--out", out, "--quantize", "int8",
            "--calibration", real_sources[1], "--parity-data", real_sources[0], "--json"]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "delay 0 frames" in captured.out
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["passed"] and report["clips"] == 5 and report["quantize"] == "int8"
    check_int8(out)
    # the same gate as the clip export: a threshold the file cannot meet exits 2 and keeps the file
    code = main(argv[:-1] + ["--max-rel-diff", "1e-9"])
    captured = capsys.readouterr()
    assert code == 2 and "fails the parity check" in captured.err
