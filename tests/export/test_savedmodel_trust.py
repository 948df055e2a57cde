"""A SavedModel is a program: before running one, predict / eval / stream check its ops. Before: `predict` on
a SavedModel whose serving function held `tf.io.write_file` ran it and the file appeared."""

import numpy as np
import pytest

from keras_gst.cli import main
from keras_gst.errors import ModelFileError

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5  # as tests/export/conftest.py


@pytest.fixture()
def evil_savedmodel(tmp_path):
    """A clip-shaped SavedModel whose serving function also writes a file."""
    import tensorflow as tf

    target = tmp_path / "written_by_the_model.txt"

    class Evil(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((None, NUM_FRAMES, SIZE, SIZE, 3), tf.float32, name="frames")])
        def serve(self, frames):
            tf.io.write_file(str(target), "pwned")
            logits = tf.tile(tf.reduce_mean(frames, axis=[1, 2, 3])[:, :1], [1, NUM_CLASSES])
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    module = Evil()
    path = tmp_path / "evil_sm"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    assert not target.exists()
    return str(path), target


def test_write_file_savedmodel_is_refused_and_writes_nothing(evil_savedmodel, real_data, capsys):
    from keras_gst.export import predict, unsafe_ops

    path, target = evil_savedmodel
    assert "WriteFile" in unsafe_ops(path)
    video = str(real_data / "videos" / "test.avi")
    with pytest.raises(ModelFileError, match="WriteFile"):
        predict(path, video)
    assert main(["predict", video, "--model", path]) == 2
    err = capsys.readouterr().err
    assert "WriteFile" in err and "--trust-savedmodel" in err and "Traceback" not in err
    assert main(["stream", video, "--model", path]) == 2
    assert "WriteFile" in capsys.readouterr().err
    assert not target.exists()
    # the op is real: trusting the file runs it
    result = predict(path, video, trust_savedmodel=True)
    assert target.read_text() == "pwned" and len(result.topk) == NUM_CLASSES


def test_keras_gst_savedmodels_pass_the_check(savedmodel_dir, tiny_model, tmp_path):
    from keras_gst.export import export_savedmodel, export_streaming_savedmodel, unsafe_ops

    assert unsafe_ops(savedmodel_dir) == {}
    export_savedmodel(tiny_model, str(tmp_path / "u8"), input_dtype="uint8")
    assert unsafe_ops(str(tmp_path / "u8")) == {}
    export_streaming_savedmodel(tiny_model, str(tmp_path / "stream"))
    assert unsafe_ops(str(tmp_path / "stream")) == {}


def test_savedmodel_predictor_equals_keras(savedmodel_dir, tiny_model, real_clips):
    """The library runs a SavedModel's serving function frozen (variables as constants): same logits."""
    from keras_gst.export import load_predictor, normalize_clip

    predictor = load_predictor(savedmodel_dir)
    expected = np.asarray(tiny_model(normalize_clip(real_clips[:3]), training=False))
    np.testing.assert_allclose(predictor.logits(real_clips[:3]), expected, atol=1e-4, rtol=1e-4)
