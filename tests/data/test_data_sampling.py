import numpy as np
import pytest

from keras_gst.data.sampling import dense_indices, sample_indices, segment_indices


def test_test_mode_takes_segment_middles_like_the_authors():
    # authors' _get_test_indices: int(tick / 2 + tick * x), tick = n / T (then +1 for 1-indexed files)
    for n, t in [(48, 8), (49, 8), (300, 16), (9, 8)]:
        tick = n / t
        expected = [int(tick / 2.0 + tick * x) for x in range(t)]
        np.testing.assert_array_equal(segment_indices(n, t, training=False), expected)


def test_training_takes_one_random_frame_per_segment():
    rng = np.random.default_rng(0)
    n, t = 50, 8
    average = n // t
    seen = set()
    for _ in range(200):
        idx = segment_indices(n, t, training=True, rng=rng)
        assert idx.shape == (t,)
        segments = idx // average
        np.testing.assert_array_equal(np.minimum(segments, t - 1), np.arange(t))
        assert (idx < average * t).all()
        seen.update(idx.tolist())
    assert len(seen) == average * t  # every frame of every segment is reachable


def test_training_is_deterministic_with_a_seed():
    a = segment_indices(300, 8, training=True, rng=np.random.default_rng(7))
    b = segment_indices(300, 8, training=True, rng=np.random.default_rng(7))
    c = segment_indices(300, 8, training=True, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("training", [True, False])
def test_short_video_repeats_frames_in_order(training):
    idx = segment_indices(5, 8, training=training, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(idx, [0, 0, 1, 2, 2, 3, 4, 4])  # int((x + 1/2) * 5 / 8)
    assert set(idx.tolist()) == set(range(5)) and (np.diff(idx) >= 0).all()
    np.testing.assert_array_equal(segment_indices(1, 8, training=training), np.zeros(8))


def test_two_test_clips_are_twice_sample():
    # TSM twice_sample: middles, then segment starts
    idx = sample_indices(80, 8, training=False, num_clips=2)
    np.testing.assert_array_equal(idx[:8], np.arange(8) * 10 + 5)
    np.testing.assert_array_equal(idx[8:], np.arange(8) * 10)


def test_dense_sampling():
    np.testing.assert_array_equal(dense_indices(100, 8, 2, training=False), 42 + 2 * np.arange(8))
    idx = dense_indices(100, 8, 2, training=True, rng=np.random.default_rng(1))
    assert np.all(np.diff(idx) == 2) and idx[0] <= 84
    # clips spread from the first to the last possible start
    clips = sample_indices(100, 8, mode="dense", training=False, interval=2, num_clips=3).reshape(3, 8)
    np.testing.assert_array_equal(clips[:, 0], [0, 42, 84])
    # short video loops
    np.testing.assert_array_equal(dense_indices(5, 8, 1, training=False), [0, 1, 2, 3, 4, 0, 1, 2])


def test_bad_arguments():
    with pytest.raises(ValueError, match="cannot sample from 0 frames"):
        segment_indices(0, 8, training=False)
    with pytest.raises(ValueError, match="one clip"):
        sample_indices(10, 8, training=True, num_clips=2)
    with pytest.raises(ValueError, match="mode must be"):
        sample_indices(10, 8, training=False, mode="sparse")
