import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_gst.data import transforms as T
from keras_gst.data.annotations import SSV2_FLIP_PAIRS, pairs_to_map


def coordinate_frames(h, w, t=3):
    """Frame k: channel 0 = x, channel 1 = y, channel 2 = 10*k (so crops are recognisable)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([np.stack([x, y, np.full_like(x, 10.0 * k)], -1) for k in range(t)])


def test_crop_size_candidates_match_the_authors():
    # authors: int(256 * s) for s in (1, .875, .75, .66), snapped to 224 within 3 px, |i - j| <= 1
    sizes = [256, 224, 192, 168]
    expected = [(sizes[j], sizes[i]) for i in range(4) for j in range(4) if abs(i - j) <= 1]
    assert T.crop_size_pairs() == expected and len(expected) == 10


def allowed_windows(h, w, scale_size=256, crop_size=224, scales=(1, 0.875, 0.75, 0.66), max_distort=1):
    """Every (top, left, height, width) fraction the authors' GroupMultiScaleCrop can pick, written out
    from their transforms.py (independent of keras_gst): torchvision Resize of the short side, crop sizes
    int(base * scale) snapped to the input size within 3 px, neighbouring scales mixed, and the 13
    `fill_fix_offset(more_fix_crop=True)` offsets in steps of (image - crop) // 4."""
    rh, rw = (scale_size, int(scale_size * w / h)) if h <= w else (int(scale_size * h / w), scale_size)
    sizes = [int(min(rh, rw) * s) for s in scales]
    sizes = [crop_size if abs(x - crop_size) < 3 else x for x in sizes]
    windows = []
    for i, ch in enumerate(sizes):
        for j, cw in enumerate(sizes):
            if abs(i - j) > max_distort:
                continue
            ws, hs = (rw - cw) // 4, (rh - ch) // 4
            offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
                       (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                       (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
            windows += [[y / rh, x / rw, ch / rh, cw / rw] for x, y in offsets]
    return np.array(windows)


def test_multiscale_boxes_are_the_authors_candidates():
    h, w = 240, 427
    allowed = allowed_windows(h, w)
    seen = set()
    for s in range(60):
        box = T.multiscale_crop_box(h, w, tf.constant([s, 1], tf.int64)).numpy()
        distance = np.abs(allowed - box).max(axis=1)
        assert distance.min() < 1e-5
        seen.add(int(distance.argmin()))
    assert len(seen) > 20  # many scales and offsets drawn


def test_same_crop_for_every_frame():
    frames = coordinate_frames(240, 320, t=4)
    box = T.multiscale_crop_box(240, 320, tf.constant([3, 1], tf.int64))
    out = T.crop_resize(tf.constant(frames), box[None], 64)[0].numpy()
    assert out.shape == (4, 64, 64, 3)
    for k in range(1, 4):
        np.testing.assert_allclose(out[k, ..., :2], out[0, ..., :2], atol=1e-4)  # same x, y everywhere
        np.testing.assert_allclose(out[k, ..., 2], 10.0 * k, atol=1e-4)


def test_center_crop_is_exact_on_a_256_short_side():
    frames = coordinate_frames(256, 341, t=1)
    boxes, flips = T.view_crop_boxes(256, 341, 1)
    out = T.crop_resize(tf.constant(frames), boxes, 224, flips)[0, 0].numpy()
    # torchvision CenterCrop: top = round(32 / 2) = 16, left = round(117 / 2) = 58
    np.testing.assert_allclose(out, frames[0, 16:240, 58:282], atol=1e-3)


def test_center_crop_after_short_side_resize():
    # 240x320 -> 256x341, centre 224 crop at (16, 58) -> in the frame: rows 15..225, columns 54..264,
    # resized bilinearly (half-pixel centres, like cv2.INTER_LINEAR)
    frames = np.random.default_rng(0).uniform(0, 255, (1, 240, 320, 3)).astype(np.float32)
    boxes, _ = T.view_crop_boxes(240, 320, 1)
    out = T.crop_resize(tf.constant(frames), boxes, 224)[0, 0].numpy()
    expected = cv2.resize(frames[0, 15:225, 54:264], (224, 224), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(out[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-2)


def test_five_three_and_ten_crops():
    frames = tf.constant(coordinate_frames(256, 320, t=2))
    boxes, flips = T.view_crop_boxes(256, 320, 5)
    five = T.crop_resize(frames, boxes, 224, flips).numpy()
    corners = [(0, 0), (0, 96), (32, 0), (32, 96), (16, 48)]  # tl, tr, bl, br, centre (y, x)
    for view, (y, x) in zip(five, corners):
        assert (view[0, 0, 0, 0], view[0, 0, 0, 1]) == pytest.approx((x, y), abs=1e-3)
    boxes, flips = T.view_crop_boxes(256, 320, 10)
    ten = T.crop_resize(frames, boxes, 224, flips).numpy()
    np.testing.assert_allclose(ten[:5], five, atol=1e-4)
    np.testing.assert_allclose(ten[5:], five[..., ::-1, :], atol=1e-4)
    boxes, _ = T.view_crop_boxes(256, 320, 3)  # wide: along x
    three = T.crop_resize(frames, boxes, 224).numpy()
    assert [v[0, 0, 0, 0] for v in three] == pytest.approx([0, 48, 96], abs=1e-3)
    boxes, _ = T.view_crop_boxes(320, 256, 3)  # tall: along y
    three = T.crop_resize(tf.constant(coordinate_frames(320, 256, 1)), boxes, 224).numpy()
    assert [v[0, 0, 0, 1] for v in three] == pytest.approx([0, 48, 96], abs=1e-3)
    with pytest.raises(ValueError, match="num_crops"):
        T.view_crop_boxes(256, 320, 4)


def test_large_frames_are_downscaled_without_moving_the_crop():
    frames = coordinate_frames(1080, 1440, t=1)
    boxes, _ = T.view_crop_boxes(1080, 1440, 1)
    out = T.crop_resize(tf.constant(frames), boxes, 32)[0, 0].numpy()
    # centre crop of the 256x341 view: x in [58, 282) * 1440/341, sampled at 32 pixel centres
    left, width = 58 * 1440 / 341, 224 * 1440 / 341
    expected = left + (np.arange(32) + 0.5) * width / 32 - 0.5
    np.testing.assert_allclose(out[5, :, 0], expected, atol=3)


def test_label_swap():
    table = T.flip_lookup(pairs_to_map(SSV2_FLIP_PAIRS), 174)
    swap = lambda x: int(T.swap_label(tf.constant(x), table))  # noqa: E731
    assert [swap(86), swap(87), swap(93), swap(94), swap(166), swap(167), swap(5), swap(-1)] == \
        [87, 86, 94, 93, 167, 166, 5, -1]
    multi_hot = np.zeros(174, np.float32)
    multi_hot[[86, 5]] = 1
    swapped = T.swap_label(tf.constant(multi_hot), table).numpy()
    assert set(np.flatnonzero(swapped)) == {87, 5}
    with pytest.raises(ValueError, match="symmetric"):
        T.flip_lookup({1: 2}, 4)
