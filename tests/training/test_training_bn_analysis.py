"""Fig. 4 (BN |gamma| spatial vs temporal per GST unit) and Fig. 5 (per-frame probabilities) plots."""

import numpy as np
import pytest

from keras_gst import GSTResNet18, per_frame_model
from keras_gst.analysis import (
    bn_gamma_split,
    frame_probabilities,
    gamma_histograms,
    plot_frame_probabilities,
    plot_gamma_histograms,
)
from keras_gst.layers import GSTBlock


@pytest.fixture(scope="module")
def model():
    m = GSTResNet18(6, weights=None, num_frames=4, input_shape=(32, 32, 3), alpha=0.25)
    rng = np.random.default_rng(0)
    for unit in m.units():
        g = unit.bn.gamma
        # spatial channels |gamma| in [0, 1), temporal in [2, 3): each histogram can be told apart
        values = np.concatenate([rng.uniform(0, 1, unit.spatial_filters), -rng.uniform(2, 3, unit.temporal_filters)])
        g.assign(values.astype(np.float32))
    return m


def test_gamma_split_follows_the_gst_channel_layout(model):
    split = bn_gamma_split(model)
    units = model.units()
    assert len(split) == len(units) == 16  # ResNet-18: 8 basic blocks x 2 GST units
    for (name, spatial, temporal), unit in zip(split, units):
        assert isinstance(unit, GSTBlock) and name == unit.name
        assert spatial.size == unit.spatial_filters == unit.filters * 3 // 4
        assert temporal.size == unit.temporal_filters == unit.filters // 4
        assert spatial.max() < 1 <= 2 <= temporal.min()  # absolute values, right halves


def test_histogram_counts_equal_channel_counts_and_png_is_written(model, tmp_path):
    path = tmp_path / "fig4.png"
    hists = plot_gamma_histograms(model, path, bins=10)
    assert hists.keys() == {u.name for u in model.units()}
    for unit in model.units():
        h = hists[unit.name]
        assert h["spatial"].sum() == unit.spatial_filters
        assert h["temporal"].sum() == unit.temporal_filters
        centers = (h["edges"][:-1] + h["edges"][1:]) / 2
        assert (centers[h["spatial"] > 0] < 1.2).all() and (centers[h["temporal"] > 0] > 1.8).all()
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 400 and image.shape[1] > 800  # a 4x4 grid of panels


def test_histograms_of_a_c2d_model_have_no_temporal_channels(tmp_path):
    m = GSTResNet18(3, weights=None, block="c2d", num_frames=2, input_shape=(32, 32, 3))
    hists = plot_gamma_histograms(m, tmp_path / "c2d.png")
    for unit in m.units():
        assert hists[unit.name]["spatial"].sum() == unit.filters
        assert hists[unit.name]["temporal"].sum() == 0


def test_frame_probabilities_and_fig5_plot(model, tmp_path):
    clip = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype(np.float32)
    probs = frame_probabilities(model, clip)
    assert probs.shape == (4, 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # the clip logits are the mean of the per-frame logits
    frame_logits = per_frame_model(model).predict(clip[None], verbose=0)[0]
    np.testing.assert_allclose(np.asarray(model(clip[None], training=False))[0], frame_logits.mean(0), rtol=1e-4, atol=1e-5)
    top = plot_frame_probabilities(probs, tmp_path / "fig5.png", [f"c{i}" for i in range(6)], top_k=3)
    assert top == list(np.argsort(-probs.mean(0))[:3])
    assert (tmp_path / "fig5.png").stat().st_size > 5000
    with pytest.raises(ValueError):
        plot_frame_probabilities(probs[0], tmp_path / "bad.png")
