"""Clip transforms in TensorFlow: one crop box and one flip per clip, applied to every frame.

Geometry follows the authors' `transforms.py` on frames whose short side is resized to `scale_size`
(256): multi-scale crop with scales (1, .875, .75, .66) of the short side, neighbouring scales mixed
(max_distort 1), 13 fixed offsets, then resized to `crop_size` (224); test: centre crop. Crop windows
are computed in the resized frame and applied to the original pixels, so the short-side resize and the
crop resize are one bilinear resampling (crop, then `tf.image.resize`) for frames up to `scale_size`;
larger frames are first downscaled to `scale_size` with antialiasing (videos: OpenCV INTER_AREA while
decoding), like the authors' resize-then-crop. Pixels stay in [0, 255]: normalising is the classifier's
preprocessor's (`keras_gst.models.gst_video_classifier_preprocessor.normalize_clips`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from keras_gst.checks import CROPS
from keras_gst.data.spec import MULTISCALE_SCALES


def crop_size_pairs(scale_size: int = 256, crop_size: int = 224, scales: Sequence[float] = MULTISCALE_SCALES,
                    max_distort: int = 1) -> list[tuple[int, int]]:
    """(crop_w, crop_h) candidates in the resized frame, as the authors' `_sample_crop_size`.

    Example:

    ```python
    from keras_gst.data.transforms import crop_size_pairs

    # sides int(256 * (1, .875, .75, .66)) = 256, 224, 192, 168; neighbouring sides mixed
    print(crop_size_pairs(256, 224)[:3])  # [(256, 256), (224, 256), (256, 224)]
    ```
    """
    sizes = [int(scale_size * s) for s in scales]
    sizes = [crop_size if abs(x - crop_size) < 3 else x for x in sizes]
    return [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]


# Fixed offsets in units of (image - crop) // 4 (the authors' `fill_fix_offset`, more_fix_crop=True).
FIX_OFFSETS = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
               (1, 1), (3, 1), (1, 3), (3, 3))


def resized_shape(height: int | tf.Tensor, width: int | tf.Tensor, scale_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(h, w) after resizing the short side to `scale_size` (torchvision Resize rounding).

    Example:

    ```python
    from keras_gst.data.transforms import resized_shape

    h, w = resized_shape(240, 320, 256)  # 320 * 256 / 240 = 341.33
    print(float(h), float(w))  # 256.0 341.0
    ```
    """
    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    short = tf.minimum(height, width)
    scale = scale_size / short
    h = tf.where(height <= width, float(scale_size), tf.floor(height * scale))
    w = tf.where(height <= width, tf.floor(width * scale), float(scale_size))
    return h, w


def _window(resized_h, resized_w, top, left, crop_h, crop_w):
    """A crop of the resized frame as fractions (top, left, height, width) of the frame, so it applies
    to the frame at any resolution."""
    return tf.stack([top / resized_h, left / resized_w, crop_h / resized_h, crop_w / resized_w])


def multiscale_crop_box(height: int | tf.Tensor, width: int | tf.Tensor, seed: tf.Tensor, *, scale_size: int = 256,
                       crop_size: int = 224, scales: Sequence[float] = MULTISCALE_SCALES,
                       max_distort: int = 1) -> tf.Tensor:
    """A random multi-scale crop window (fractions top, left, height, width; stateless: `seed` is a
    shape-(2,) int tensor)."""
    pairs = tf.constant(crop_size_pairs(scale_size, crop_size, scales, max_distort), tf.float32)
    offsets = tf.constant(FIX_OFFSETS, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    pair = pairs[tf.random.stateless_uniform([], seeds[0], 0, len(pairs), tf.int32)]
    offset = offsets[tf.random.stateless_uniform([], seeds[1], 0, len(FIX_OFFSETS), tf.int32)]
    resized_h, resized_w = resized_shape(height, width, scale_size)
    crop_w, crop_h = pair[0], pair[1]
    w_step = tf.floor((resized_w - crop_w) / 4.0)
    h_step = tf.floor((resized_h - crop_h) / 4.0)
    return _window(resized_h, resized_w, offset[1] * h_step, offset[0] * w_step, crop_h, crop_w)


def view_crop_boxes(height: int | tf.Tensor, width: int | tf.Tensor, num_crops: int = 1, *, scale_size: int = 256,
                    crop_size: int = 224) -> tuple[tf.Tensor, list[bool]]:
    """Windows and flip flags of the test views: 1 centre; 3 along the long side; 5 corners + centre;
    10 = the 5 and their flips. Returns (windows (num_crops, 4) as fractions, flips: list of bool)."""
    if num_crops not in CROPS:
        raise ValueError(f"num_crops must be one of {CROPS}. Received: num_crops={num_crops}")
    rh, rw = resized_shape(height, width, scale_size)
    c = float(crop_size)
    center = (tf.round((rh - c) / 2.0), tf.round((rw - c) / 2.0))
    if num_crops == 1:
        tops_lefts = [center]
    elif num_crops == 3:  # MMAction2 ThreeCrop: along the long side
        tall = rh > rw
        mid_y, mid_x = center
        tops_lefts = [
            (tf.where(tall, 0.0, mid_y), tf.where(tall, mid_x, 0.0)),
            center,
            (tf.where(tall, rh - c, mid_y), tf.where(tall, mid_x, rw - c)),
        ]
    else:  # torchvision FiveCrop order: tl, tr, bl, br, centre
        tops_lefts = [(0.0, 0.0), (0.0, rw - c), (rh - c, 0.0), (rh - c, rw - c), center]
    windows = [_window(rh, rw, tf.cast(t, tf.float32), tf.cast(l, tf.float32), c, c) for t, l in tops_lefts]
    flips = [False] * len(windows)
    if num_crops == 10:
        windows, flips = windows + windows, flips + [True] * 5
    return tf.stack(windows), flips


def _antialias_downscale(frames, scale_size):
    """Frames whose short side exceeds `scale_size` are first resized (antialiased) to a short side of
    `scale_size`, as the authors' GroupScale; windows are fractions, so crops do not move."""
    shape = tf.shape(frames)
    h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    short = tf.minimum(h, w)

    def down():
        size = tf.cast(tf.round(tf.stack([h, w]) * scale_size / short), tf.int32)
        return tf.cast(tf.round(tf.image.resize(frames, size, antialias=True)), frames.dtype)

    return tf.cond(short > scale_size, down, lambda: frames)


def _crop_one(frames, window, size, flip):
    shape = tf.shape(frames)
    hw = tf.cast(tf.stack([shape[1], shape[2], shape[1], shape[2]]), tf.float32)
    top, left, height, width = tf.unstack(tf.cast(tf.round(window * hw), tf.int32))
    height = tf.clip_by_value(height, 1, shape[1] - top)
    width = tf.clip_by_value(width, 1, shape[2] - left)
    out = tf.image.resize(frames[:, top:top + height, left:left + width], (size, size), method="bilinear")
    if isinstance(flip, (bool, np.bool_)):
        return tf.reverse(out, axis=[2]) if flip else out
    return tf.cond(flip, lambda: tf.reverse(out, axis=[2]), lambda: out)


def crop_resize(frames: tf.Tensor | np.ndarray, boxes: tf.Tensor, size: int,
                flips: Sequence[bool | tf.Tensor] | None = None, scale_size: int = 256) -> tf.Tensor:
    """Crop every frame (T, H, W, C) with each window of `boxes` (V, 4) (fractions top, left, height,
    width; V static), resize to `size` x `size` (bilinear, half-pixel centres, as PIL/torchvision) and
    mirror the views whose `flips` entry (python bool or scalar bool tensor) is true:
    (V, T, size, size, C) float32 in the input's value range."""
    frames = _antialias_downscale(tf.convert_to_tensor(frames), scale_size)
    num_views = boxes.shape[0]
    if num_views is None:
        raise ValueError("crop_resize needs a static number of boxes")
    flips = [False] * num_views if flips is None else flips
    return tf.stack([_crop_one(frames, boxes[i], size, flips[i]) for i in range(num_views)])


def flip_lookup(flip_map: Mapping[int, int] | None, num_classes: int) -> tf.Tensor:
    """Dense int32 table: label -> label after a horizontal flip (identity outside `flip_map`)."""
    table = np.arange(num_classes, dtype=np.int32)
    for a, b in (flip_map or {}).items():
        if not (0 <= a < num_classes and 0 <= b < num_classes):
            raise ValueError(f"flip_map pair ({a}, {b}) is outside [0, {num_classes})")
        if flip_map.get(b) != a:
            raise ValueError(f"flip_map must be symmetric: {a} -> {b} but {b} -> {flip_map.get(b)}")
        table[a] = b
    return tf.constant(table)


def swap_label(label: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """Flip-swap an int label (-1 = unlabeled stays) or a multi-hot vector."""
    if label.shape.rank == 0:
        return tf.where(label >= 0, tf.gather(table, tf.maximum(label, 0)), label)
    # multi-hot: new[table[i]] = old[i]; the table is an involution so new = old[table]
    return tf.gather(label, table)
