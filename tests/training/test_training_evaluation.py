"""Evaluation metrics, multi-view averaging and the report files."""

import csv
import json

import numpy as np
import pytest

import keras
from keras_gst.evaluation import (
    classification_metrics,
    confusion_matrix,
    epic_action_metrics,
    evaluate,
    mean_class_accuracy,
    predict_scores,
    top_k_accuracy,
)


def test_top_k_and_class_metrics_on_a_hand_checked_example():
    scores = np.array([
        [0.9, 0.05, 0.03, 0.02],  # label 0: top-1 right
        [0.1, 0.2, 0.6, 0.1],     # label 1: top-1 wrong (2), top-2 right
        [0.1, 0.2, 0.3, 0.4],     # label 2: wrong (3), 2nd best
        [0.4, 0.3, 0.2, 0.1],     # label 3: worst ranked
        [0.0, 0.0, 1.0, 0.0],     # label 2: right
    ])
    labels = np.array([0, 1, 2, 3, 2])
    assert top_k_accuracy(scores, labels, 1) == pytest.approx(2 / 5)
    assert top_k_accuracy(scores, labels, 2) == pytest.approx(4 / 5)
    assert top_k_accuracy(scores, labels, 5) == pytest.approx(1.0)  # k capped at 4 classes
    m = confusion_matrix(labels, scores.argmax(1), 4)
    assert m.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1], [1, 0, 0, 0]]
    # per-class recall 1, 0, 1/2, 0 -> mean 0.375 (top-1 is 0.4: the two differ on unbalanced data)
    assert mean_class_accuracy(m) == pytest.approx(0.375)
    result = classification_metrics(scores, labels)
    assert (result["top1"], result["num_samples"]) == (pytest.approx(0.4), 5)


def test_report_table_shows_a_dash_where_recall_or_precision_is_undefined():
    """A named class with no clips has no recall, one never predicted no precision: "-", not "nan"."""
    from keras_gst.evaluation import format_report, per_class_report

    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])  # labels 0 and 1, both predicted 0; class 2: no clip
    result = classification_metrics(scores, np.array([0, 1]), num_classes=3)
    result["per_class"] = per_class_report(result["confusion"], ["jump", "run", "walk"])
    rows = [line.split() for line in format_report(result, ["jump", "run", "walk"]).splitlines()[2:]]
    assert rows == [["0", "1", "1.000", "0.500", "jump"], ["1", "1", "0.000", "-", "run"], ["2", "0", "-", "-", "walk"]]


def test_epic_action_needs_verb_and_noun_right():
    verb_scores = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])
    noun_scores = np.array([[5.0, 0], [5.0, 0], [0, 5.0]])
    r = epic_action_metrics(verb_scores, noun_scores, np.array([0, 1, 1]), np.array([0, 1, 1]))
    assert r["verb_top1"] == pytest.approx(2 / 3)   # clip 3: verb wrong
    assert r["noun_top1"] == pytest.approx(2 / 3)   # clip 2: noun wrong
    assert r["action_top1"] == pytest.approx(1 / 3)  # only clip 1 has both
    assert r["action_top5"] >= r["action_top1"]


class LinearClips(keras.Model):
    """A deterministic 'clip classifier': logits = W @ mean over (T, H, W) of the frames."""

    def __init__(self, w):
        super().__init__()
        self.w = np.asarray(w, np.float32)
        self.num_classes = self.w.shape[1]

    def call(self, x):
        return keras.ops.matmul(keras.ops.mean(x, axis=(1, 2, 3)), self.w)


def test_multi_view_scores_are_the_mean_of_per_view_logits(tmp_path):
    rng = np.random.default_rng(0)
    model = LinearClips(rng.normal(size=(3, 4)))
    clips = rng.normal(size=(5, 6, 2, 8, 8, 3)).astype(np.float32)  # 5 videos x 6 views
    labels = np.array([0, 1, 2, 3, 0])
    dataset = [(clips[:3], labels[:3]), (clips[3:], labels[3:])]
    scores, got_labels = predict_scores(model, dataset)
    per_view = np.stack([model.predict_on_batch(clips[:, v]) for v in range(6)], axis=1)
    np.testing.assert_allclose(scores, per_view.mean(axis=1), rtol=1e-5, atol=1e-6)
    assert got_labels.tolist() == labels.tolist()
    soft, _ = predict_scores(model, dataset, average="softmax")
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    # single-view batches (5-D) take the same path
    single, _ = predict_scores(model, [(clips[:, 0], labels)])
    np.testing.assert_allclose(single, per_view[:, 0], rtol=1e-5, atol=1e-6)

    names = ["a", "b", "c", "d"]
    result = evaluate(model, dataset, names, output_dir=tmp_path)
    expected = classification_metrics(per_view.mean(axis=1), labels)
    assert result["top1"] == pytest.approx(expected["top1"])
    assert (result["confusion"] == expected["confusion"]).all()
    rows = list(csv.reader(open(tmp_path / "confusion.csv")))
    assert rows[0] == ["true \\ predicted"] + names
    assert np.array([[int(v) for v in r[1:]] for r in rows[1:]]).tolist() == expected["confusion"].tolist()
    report = list(csv.DictReader(open(tmp_path / "per_class.csv")))
    assert [int(r["support"]) for r in report] == [2, 1, 1, 1]
    assert json.load(open(tmp_path / "metrics.json"))["num_samples"] == 5
    png = (tmp_path / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
