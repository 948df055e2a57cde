"""Streaming GST (frame by frame, temporal context as state) equals the offline model exactly."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gst import per_frame_model
from keras_gst.export import normalize_clip
from keras_gst.export.streaming import StreamingGST, export_streaming_savedmodel


def _check_against_offline(model, x):
    stream = StreamingGST(model)
    frames, clip = stream.run(x)
    ref_frames = np.asarray(per_frame_model(model)(x, training=False))
    ref_clip = np.asarray(model(x, training=False))
    scale = max(1.0, np.abs(ref_frames).max())
    np.testing.assert_allclose(frames, ref_frames, atol=1e-5 * scale, rtol=0)
    np.testing.assert_allclose(clip, ref_clip, atol=1e-5 * scale, rtol=0)
    return stream


def test_stream_equals_offline_on_real_clips(tiny_model, real_clips):
    x = normalize_clip(real_clips[::5])  # 4 clips: 2 videos, 2 frame folders
    stream = _check_against_offline(tiny_model, x)
    assert stream.delay == 16  # one frame per GST unit of R18 (2 units x 8 blocks)


def test_stream_gst_large_and_basic_block_shortcuts(real_clips):
    import keras

    from keras_gst import GSTResNet18

    keras.utils.set_random_seed(3)
    model = GSTResNet18(7, weights=None, beta=1.0, input_shape=(64, 64, 3))  # any T
    _check_against_offline(model, normalize_clip(np.concatenate([real_clips[:1], real_clips[:1]], axis=1)))  # T=8


def test_stream_outputs_are_delayed_and_flagged(tiny_model, real_clips):
    stream = StreamingGST(tiny_model)
    states = stream.init_states(1)
    x = normalize_clip(real_clips[:1])
    valids = []
    for s in range(4 + stream.delay):
        frame = x[:, s] if s < 4 else np.zeros_like(x[:, 0])
        out, states = stream.step(tf.constant(frame), tf.constant([1.0 if s < 4 else 0.0]), states)
        valids.append(float(out["valid"][0]))
    assert valids == [0.0] * stream.delay + [1.0] * 4
    # stopping before the flush gives a different (incomplete) answer: the delay is real
    partial = StreamingGST(tiny_model).run(x[:, :2])[1]
    assert np.abs(partial - np.asarray(tiny_model(x))).max() > 1e-4


def test_streaming_savedmodel_signatures(tiny_model, real_clips, tmp_path):
    x = normalize_clip(real_clips[:2])
    stream = export_streaming_savedmodel(tiny_model, tmp_path / "stream")
    loaded = tf.saved_model.load(str(tmp_path / "stream"))
    assert set(loaded.signatures) == {"init_states", "call"}
    states = loaded.signatures["init_states"](batch_size=tf.constant(2))
    assert len(states) == len(stream.state_shapes) + 2
    call = loaded.signatures["call"]
    for s in range(4 + stream.delay):
        frame = x[:, s] if s < 4 else np.zeros_like(x[:, 0])
        out = call(frame=tf.constant(frame), valid=tf.fill((2,), 1.0 if s < 4 else 0.0), **states)
        states = {k: v for k, v in out.items() if k.startswith("state_")}
    np.testing.assert_allclose(out["clip_logits"].numpy(), np.asarray(tiny_model(x)), atol=1e-6)


def test_stream_rejects_unsupported_models():
    from keras_gst import GSTResNet18

    with pytest.raises(ValueError, match="block='gst'"):
        StreamingGST(GSTResNet18(3, weights=None, block="c3d", input_shape=(32, 32, 3)))
    with pytest.raises(ValueError, match="static frame size"):
        StreamingGST(GSTResNet18(3, weights=None))


@pytest.mark.large
def test_export_cli_streaming(tiny_model, real_sources, tmp_path, capsys):
    import json

    from keras_gst.cli import main

    keras_path = str(tmp_path / "tiny.keras")
    tiny_model.save(keras_path)
    out = str(tmp_path / "stream")
    code = main(["export", "--format", "streaming", "--model", keras_path, "--out", out,
                 "--parity-data", real_sources[1], "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "delay 16 frames" in captured.out
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["passed"] and report["clips"] == 5 and report["top1_agreement"] == 1.0
    assert set(tf.saved_model.load(out).signatures) == {"init_states", "call"}


def test_streaming_tflite_frame_by_frame(tiny_model, real_clips, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from keras_gst.export import export_streaming_tflite
    from keras_gst.export.streaming import initial_states_numpy

    path = str(tmp_path / "stream.tflite")
    stream = export_streaming_tflite(tiny_model, path)
    runner = Interpreter(model_path=path, num_threads=2).get_signature_runner()
    x = normalize_clip(real_clips[3:4])
    ref_frames = np.asarray(per_frame_model(tiny_model)(x))
    states = initial_states_numpy(stream)
    frames = []
    for s in range(4 + stream.delay):
        frame = x[:, s] if s < 4 else np.zeros_like(x[:, 0])
        out = runner(frame=frame, valid=np.array([1.0 if s < 4 else 0.0], np.float32), **states)
        states = {k: v for k, v in out.items() if k.startswith("state_")}
        if out["valid"][0] == 1.0:
            frames.append(out["frame_logits"][0])
    assert len(frames) == 4
    np.testing.assert_allclose(np.stack(frames), ref_frames[0], atol=1e-5)
    np.testing.assert_allclose(out["clip_logits"], np.asarray(tiny_model(x)), atol=1e-5)
    with pytest.raises(ValueError, match="calibration_clips"):
        export_streaming_tflite(tiny_model, str(tmp_path / "x.tflite"), quantize="int8")
    # every state, input and output, has rank <= 4 (GPU / NNAPI delegates)
    details = list(runner.get_input_details().values()) + list(runner.get_output_details().values())
    assert max(len(d["shape"]) for d in details) <= 4
