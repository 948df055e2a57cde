"""`keras_gst.export.evaluate_model` / `keras-gst eval` on a tiny model: unlabeled entries left out and
counted, an all-unlabeled list and a class file of the wrong size refused (before: top-1 0.0 with mean
class accuracy 1.0, and nan rows), the metrics checked against the Keras model run by hand."""

import json

import numpy as np
import pytest

from keras_gst.cli import main
from keras_gst.errors import ParameterError

COLOURS = [(30, 200, 60), (220, 40, 40), (90, 90, 250)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import keras

    from keras_gst import GSTResNet18
    from keras_gst.data.synthetic import write_video

    keras.utils.set_random_seed(4)
    root = tmp_path_factory.mktemp("eval")
    model = GSTResNet18(3, weights=None, num_frames=2, input_shape=(32, 32, 3))
    model.save(root / "m.keras")
    videos = []
    for i, colour in enumerate(COLOURS):
        frames = np.zeros((4, 40, 48, 3), np.uint8) + np.array(colour, np.uint8)
        frames[:, :, : 8 * (i + 1)] = 255 - frames[:, :, : 8 * (i + 1)]
        write_video(str(root / f"v{i}.mp4"), frames)
        videos.append(str(root / f"v{i}.mp4"))
    return model, root, videos


def _reference_predictions(model, videos):
    """Independent: decode each video's evaluation view and run the Keras model on it."""
    from keras_gst.export import load_clip, normalize_clip

    clips = np.stack([load_clip(v, 2, 32) for v in videos])
    return np.argmax(np.asarray(model(normalize_clip(clips), training=False)), axis=1)


def test_unlabeled_entries_are_left_out_and_counted(tiny, tmp_path, capsys):
    model, root, videos = tiny
    predicted = _reference_predictions(model, videos[:2])
    labels = [int(predicted[0]), (int(predicted[1]) + 1) % 3]  # one right, one wrong
    listing = tmp_path / "val.txt"
    listing.write_text(f"{videos[0]} {labels[0]}\n{videos[1]} {labels[1]}\n{videos[2]} -1\n")
    code = main(["eval", str(root / "m.keras"), "--annotations", str(listing), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert (result["num_samples"], result["unlabeled"]) == (2, 1)
    assert result["top1"] == pytest.approx(0.5)
    assert "1 unlabeled entries" in captured.err
    assert "eval: 2 of 2 videos" in captured.err  # not a terminal: one summary line, no bar


def test_all_unlabeled_list_is_refused(tiny, tmp_path, capsys):
    _, root, videos = tiny
    listing = tmp_path / "val.txt"
    listing.write_text("".join(f"{v} -1\n" for v in videos))
    code = main(["eval", str(root / "m.keras"), "--annotations", str(listing)])
    err = capsys.readouterr().err
    assert code == 2 and "argument --annotations:" in err and "unlabeled" in err
    assert "top-1" not in err


def test_class_file_of_another_size_is_refused(tiny, tmp_path, capsys):
    _, root, videos = tiny
    listing = tmp_path / "val.txt"
    listing.write_text(f"{videos[0]} 0\n{videos[1]} 1\n")
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")  # the model has 3 classes
    code = main(["eval", str(root / "m.keras"), "--annotations", str(listing), "--class-file", str(names)])
    captured = capsys.readouterr()
    assert code == 2 and "argument --class-file: 2 class names" in captured.err and "3 classes" in captured.err
    assert "nan" not in captured.out


def test_library_api_returns_results(tiny):
    from keras_gst.data import VideoRecord
    from keras_gst.export import EvalResult, Prediction, evaluate_model, predict

    model, root, videos = tiny
    predicted = _reference_predictions(model, videos)
    result = predict(str(root / "m.keras"), videos[1], top_k=2)
    assert isinstance(result, Prediction) and result.topk[0]["index"] == predicted[1] and len(result.topk) == 2
    records = [VideoRecord(v, None, int(p)) for v, p in zip(videos, predicted)]
    metrics = evaluate_model(str(root / "m.keras"), records, batch_size=2)
    assert isinstance(metrics, EvalResult) and (metrics.top1, metrics.num_samples) == (1.0, 3)
    with pytest.raises(ParameterError) as info:
        evaluate_model(str(root / "m.keras"), [VideoRecord(v, None, -1) for v in videos])
    assert info.value.param == "annotations"
