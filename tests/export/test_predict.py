"""`keras-gst predict` on every real sample video, with .tflite, SavedModel and .keras models."""

import json
import os

import numpy as np
import pytest

from keras_gst.cli import main
from keras_gst.export import TFLiteModel, load_clip, normalize_clip
from keras_gst.export.predictor import load_predictor

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5  # as tests/export/conftest.py
VIDEOS = ["test.mp4", "test.avi", "demo.mp4", "bottle-detection.mp4", "sthv2/13201.webm"]


def test_every_real_video_is_listed(real_data):
    found = sorted(str(p.relative_to(real_data / "videos")) for p in (real_data / "videos").rglob("*") if p.is_file())
    assert found == sorted(VIDEOS)


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "names.txt"
    path.write_text("".join(f"class {chr(ord('A') + i)}\n" for i in range(NUM_CLASSES)))
    return str(path)


def _predict_json(capsys, *argv):
    code = main(["predict", *argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])


@pytest.mark.parametrize("video", VIDEOS)
def test_predict_tflite_on_real_video(video, real_data, tiny_model, tflite_file, labels_file, capsys):
    path = str(real_data / "videos" / video)
    model_path = tflite_file("none")
    result = _predict_json(capsys, path, "--model", model_path, "--labels", labels_file, "--topk", "3", "--timing")
    assert result["format"] == "tflite" and (result["frames"], result["size"]) == (NUM_FRAMES, SIZE)
    top = result["topk"]
    assert [r["rank"] for r in top] == [1, 2, 3]
    probs = [r["probability"] for r in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert all(r["label"] == f"class {chr(ord('A') + r['index'])}" for r in top)
    for key in ("decode_ms", "preprocess_ms", "model_ms"):
        assert result["timing"][key] > 0
    # The same clip through the Keras model: the CLI decoded and classified it like the evaluation view.
    clip = load_clip(path, NUM_FRAMES, SIZE)
    ref = np.asarray(tiny_model(normalize_clip(clip[None]), training=False))[0]
    assert top[0]["index"] == int(np.argmax(ref))
    np.testing.assert_allclose([r["logit"] for r in top], ref[[r["index"] for r in top]], atol=1e-5)


def test_predict_text_output_with_int8_model(real_data, tflite_file, labels_file, capsys):
    code = main(["predict", str(real_data / "videos" / "demo.mp4"), "--model", tflite_file("int8"),
                 "--labels", labels_file, "--topk", "2", "--timing"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert "demo.mp4" in lines[0] and "tflite" in lines[0]
    assert lines[1].strip().startswith("1.") and "class " in lines[1]
    assert lines[2].strip().startswith("2.")
    assert "decode" in lines[3] and "preprocess" in lines[3] and "model" in lines[3]


@pytest.mark.large
def test_predict_savedmodel_and_keras_agree(real_data, tiny_model, savedmodel_dir, tmp_path, capsys):
    sm = savedmodel_dir
    keras_path = str(tmp_path / "tiny.keras")
    tiny_model.save(keras_path)
    video = str(real_data / "videos" / "sthv2" / "13201.webm")
    preset = tmp_path / "tiny_preset"
    tiny_model.save_to_preset(str(preset))
    (preset / "labels.txt").write_text("".join(f"name {i}\n" for i in range(NUM_CLASSES)))
    a = _predict_json(capsys, video, "--model", sm, "--topk", str(NUM_CLASSES))
    b = _predict_json(capsys, video, "--model", keras_path, "--topk", str(NUM_CLASSES))
    c = _predict_json(capsys, video, "--model", str(preset), "--topk", str(NUM_CLASSES))
    assert (a["format"], b["format"], c["format"]) == ("savedmodel", "keras", "preset")
    assert [r["index"] for r in a["topk"]] == [r["index"] for r in b["topk"]] == [r["index"] for r in c["topk"]]
    np.testing.assert_allclose([r["logit"] for r in a["topk"]], [r["logit"] for r in b["topk"]], atol=1e-5)
    np.testing.assert_allclose([r["logit"] for r in c["topk"]], [r["logit"] for r in b["topk"]], atol=1e-6)
    assert [r["label"] for r in c["topk"]] == [f"name {r['index']}" for r in c["topk"]]  # the preset's labels.txt


def test_predict_frame_folder(real_data, tflite_file, capsys):
    result = _predict_json(capsys, str(real_data / "rawframes" / "gst_style" / "57082"), "--model",
                           tflite_file("none"), "--topk", "1")
    assert len(result["topk"]) == 1 and result["topk"][0]["label"] == str(result["topk"][0]["index"])


def test_predict_unreadable_video_is_a_clear_error(tmp_path, tflite_file, capsys):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x07" * 4000)
    assert main(["predict", str(bad), "--model", tflite_file("none")]) == 2
    err = capsys.readouterr().err
    assert "corrupt.mp4" in err and "error:" in err and "Traceback" not in err
    assert main(["predict", str(tmp_path / "missing.mp4"), "--model", tflite_file("none")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


def test_predict_model_errors(tmp_path, tflite_file, labels_file, real_data, capsys):
    video = str(real_data / "videos" / "test.avi")
    assert main(["predict", video, "--model", str(tmp_path / "nope.tflite")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", video, "--model", tflite_file("none"), "--frames", "8"]) == 2
    assert "num_frames=4" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    assert main(["predict", video, "--model", tflite_file("none"), "--labels", str(short)]) == 2
    assert "2 names" in capsys.readouterr().err


def test_load_predictor_reads_shapes_from_files(tflite_file):
    predictor = load_predictor(tflite_file("int8"))
    assert (predictor.kind, predictor.num_frames, predictor.size, predictor.num_classes) == ("tflite", 4, 64, 5)
    assert TFLiteModel(tflite_file("int8")).input_dtype == "float32"


def test_frozen_function_equals_the_model_any_batch_and_is_a_weight_snapshot():
    from keras_gst import GSTResNet18
    from keras_gst.export import frozen_function

    model = GSTResNet18(NUM_CLASSES, weights=None)
    rng = np.random.default_rng(0)
    for layer in model.backbone.layers:  # non-trivial BatchNorm statistics, so the folding is exercised
        if hasattr(layer, "bn"):
            bn = layer.bn
            bn.moving_mean.assign(rng.normal(size=bn.moving_mean.shape).astype("float32"))
            bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=bn.moving_variance.shape).astype("float32"))
            bn.gamma.assign(rng.uniform(0.5, 1.5, size=bn.gamma.shape).astype("float32"))
    forward = frozen_function(model, (None, NUM_FRAMES, SIZE, SIZE, 3))
    for batch in (1, 3):
        x = rng.normal(size=(batch, NUM_FRAMES, SIZE, SIZE, 3)).astype("float32")
        expected = np.asarray(model(x, training=False))
        np.testing.assert_allclose(forward(x).numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # the weights are constants of the graph: no variable reads, and later weight changes do not leak in
    graph = forward.concrete_function.graph.as_graph_def()
    graph_ops = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert "Conv2D" in graph_ops and "Const" in graph_ops
    assert not graph_ops & {"ReadVariableOp", "VarHandleOp", "ResourceGather"}
    before = forward(x).numpy()
    head = model.get_layer("frame_logits")
    head.bias.assign(head.bias + 1.0)
    np.testing.assert_array_equal(forward(x).numpy(), before)
    np.testing.assert_allclose(model(x, training=False), before + 1.0, rtol=1e-4, atol=1e-4)
