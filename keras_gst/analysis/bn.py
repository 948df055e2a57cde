"""The paper's analysis figures as plots.

- Fig. 4: for each GST unit, histograms of |gamma| of its BatchNorm for the spatial channels (the first
  `spatial_filters`) and the temporal channels (the last `temporal_filters`). A large |gamma| means the
  channel matters downstream, so the two histograms show how much each block relies on temporal
  vs spatial features.
- Fig. 5: per-frame class probabilities over time for one video (softmax of the per-frame logits).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from keras_gst.models import GSTBackbone, GSTVideoClassifier


def bn_gamma_split(model: GSTVideoClassifier | GSTBackbone) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(unit name, |gamma| spatial, |gamma| temporal)] for every GST unit of `model`, in network order.

    Non-GST units (baselines) are returned with all channels as "spatial" and an empty temporal array.

    Example:

    ```python
    import keras_gst
    from keras_gst.analysis import bn_gamma_split

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    name, spatial, temporal = bn_gamma_split(model)[0]  # the first unit: 64 channels, alpha = 1/4 temporal
    print(name, spatial.shape, temporal.shape)  # stack0_block0_1 (48,) (16,)
    ```
    """
    out = []
    for unit in model.units():
        gamma = np.abs(np.asarray(unit.bn.gamma.numpy(), dtype=np.float64))
        spatial, _ = unit.output_paths()
        out.append((unit.name, gamma[:spatial], gamma[spatial:]))
    return out


def gamma_histograms(model: GSTVideoClassifier | GSTBackbone, bins: int = 20) -> dict[str, dict[str, np.ndarray]]:
    """Fig. 4 as numbers: {unit: {"edges", "spatial", "temporal"}} with shared bin edges per unit.

    The bins span [min, max] of the unit's |gamma| (both paths), so counts sum to each path's channel count.

    Example:

    ```python
    import keras_gst
    from keras_gst.analysis import gamma_histograms

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    counts = gamma_histograms(model, bins=10)["stack0_block0_1"]
    print(len(counts["edges"]), counts["spatial"].sum(), counts["temporal"].sum())  # 11 48 16
    ```
    """
    result = {}
    for name, spatial, temporal in bn_gamma_split(model):
        values = np.concatenate([spatial, temporal])
        lo, hi = float(values.min()), float(values.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 0.05, hi + 0.05
        edges = np.linspace(lo, hi, bins + 1)
        result[name] = {
            "edges": edges,
            "spatial": np.histogram(spatial, edges)[0],
            "temporal": np.histogram(temporal, edges)[0],
        }
    return result


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gamma_histograms(model: GSTVideoClassifier | GSTBackbone, path: str | os.PathLike, bins: int = 20,
                          columns: int = 4) -> dict[str, dict[str, np.ndarray]]:
    """Write the Fig. 4 grid (one panel per GST unit, spatial vs temporal |gamma|; `columns` panels a row)
    as a PNG.

    Returns `gamma_histograms(model, bins)`, the counts drawn.

    Example:

    ```python
    import os

    import keras_gst
    from keras_gst.analysis import plot_gamma_histograms

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    counts = plot_gamma_histograms(model, "plots/fig4.png", bins=10)
    print(len(counts), os.path.isfile("plots/fig4.png"))  # 16 True
    ```
    """
    plt = _pyplot()
    hists = gamma_histograms(model, bins)
    if not hists:
        raise ValueError(f"{model.name} has no convolution units to plot")
    n = len(hists)
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax, (name, h) in zip(axes.flat, hists.items()):
        edges = h["edges"]
        width = edges[1] - edges[0]
        ax.bar(edges[:-1], h["spatial"], width=width, align="edge", alpha=0.6, color="tab:blue",
               label=f"spatial ({int(h['spatial'].sum())})")
        if h["temporal"].sum():
            ax.bar(edges[:-1], h["temporal"], width=width, align="edge", alpha=0.6, color="tab:red",
                   label=f"temporal ({int(h['temporal'].sum())})")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{model.name}: |BN gamma| of spatial vs temporal channels per unit (paper Fig. 4)", fontsize=9)
    fig.supxlabel("|gamma|", fontsize=8)
    fig.supylabel("channels", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return hists


def gamma_summary(model: GSTVideoClassifier | GSTBackbone) -> list[tuple[str, int, int, float, float]]:
    """[(unit, spatial channels, temporal channels, mean |gamma| spatial, mean |gamma| temporal)] (NaN for a
    path without channels).

    Example:

    ```python
    import keras_gst
    from keras_gst.analysis import gamma_summary

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    print(gamma_summary(model)[0])  # ('stack0_block0_1', 48, 16, 1.0, 1.0)
    ```
    """
    rows = []
    for name, spatial, temporal in bn_gamma_split(model):
        rows.append((name, spatial.size, temporal.size, float(spatial.mean()) if spatial.size else float("nan"),
                     float(temporal.mean()) if temporal.size else float("nan")))
    return rows


def frame_probabilities(model: GSTVideoClassifier, clip: ArrayLike) -> np.ndarray:
    """Per-frame class probabilities (T, classes) of one clip (T, H, W, 3) (paper Fig. 5).

    Example:

    ```python
    import numpy as np

    import keras_gst
    from keras_gst.analysis import frame_probabilities

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    clip = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3))
    probabilities = frame_probabilities(model, clip)
    print(probabilities.shape, np.allclose(probabilities.sum(axis=1), 1.0))  # (4, 2) True
    ```
    """
    import keras

    from keras_gst.models import per_frame_model

    logits = per_frame_model(model).predict(np.asarray(clip, np.float32)[None], verbose=0)[0]
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1)))


def plot_frame_probabilities(probabilities: ArrayLike, path: str | os.PathLike,
                             class_names: Sequence[str] | None = None, top_k: int = 5, title: str | None = None,
                             frame_indices: Sequence[int] | None = None) -> list[int]:
    """Write Fig. 5: probability over time of the `top_k` classes (by mean probability) as a PNG, over
    `frame_indices` (the sampled frames' numbers in the video) if given.

    Returns the class indices drawn, most probable first.

    Example:

    ```python
    import numpy as np

    from keras_gst.analysis import plot_frame_probabilities

    probabilities = np.array([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])  # 4 frames
    top = plot_frame_probabilities(probabilities, "plots/fig5.png", ["jump", "run", "walk"], top_k=2,
                                   frame_indices=[2, 6, 10, 14])
    print(top)  # [1, 0]
    ```
    """
    plt = _pyplot()
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (T, classes). Received shape {probabilities.shape}")
    t, c = probabilities.shape
    top = [int(i) for i in np.argsort(-probabilities.mean(axis=0))[: min(top_k, c)]]
    x = np.arange(t) if frame_indices is None else np.asarray(frame_indices)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i in top:
        label = class_names[i] if class_names is not None and i < len(class_names) else f"class {i}"
        ax.plot(x, probabilities[:, i], marker="o", label=f"{label} (mean {probabilities[:, i].mean():.2f})")
    ax.set_xlabel("frame" if frame_indices is not None else "sampled frame")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_title(title or "per-frame class probabilities (paper Fig. 5)", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return top
