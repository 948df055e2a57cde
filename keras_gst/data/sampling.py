"""Frame index sampling (0-based indices into a clip of `num_frames` frames).

TSN segment sampling as in the authors' `dataset.py`: T equal segments; training takes a random frame per
segment, testing the middle one. Where the authors repeat frame 1 for videos not longer than T, we
spread the T samples over the available frames (each frame repeated, order kept), so a short clip still
carries its temporal order. Dense sampling takes `clip_len` frames `interval` apart, looping short videos.
"""

import numpy as np

from keras_gst.data.spec import SAMPLING_MODES



def _check(num_frames, length):
    if num_frames <= 0:
        raise ValueError(f"cannot sample from {num_frames} frames")
    if length <= 0:
        raise ValueError(f"the number of frames to sample must be positive. Received: {length}")


def segment_indices(num_frames: int, num_segments: int, *, training: bool, rng: np.random.Generator | None = None,
                    clip_index: int = 0, num_clips: int = 1) -> np.ndarray:
    """TSN indices, shape (num_segments,).

    training: ``segment start + randint(segment length)`` (authors' `_sample_indices`); a video
    shorter than T is sampled like in testing (frames repeated in order).
    testing: ``int(tick * (x + phase))`` with ``tick = num_frames / num_segments``; clip 0 has phase 1/2
    (the authors' middle frame), clip k phase ``(1/2 + k/num_clips) mod 1`` (2 clips = TSM's
    twice-sample: middle and segment starts).

    Example:

    ```python
    import numpy as np

    from keras_gst.data import segment_indices

    # 16 frames, 4 segments of 4: the middle frame of each
    print(segment_indices(16, 4, training=False).tolist())  # [2, 6, 10, 14]
    # the second of two test clips: the segment starts
    print(segment_indices(16, 4, training=False, clip_index=1, num_clips=2).tolist())  # [0, 4, 8, 12]
    # a 3-frame video: frames repeated in order
    print(segment_indices(3, 4, training=False).tolist())  # [0, 1, 1, 2]
    # training: a random frame of each segment
    indices = segment_indices(16, 4, training=True, rng=np.random.default_rng(0))
    print((indices // 4).tolist())  # [0, 1, 2, 3]
    ```
    """
    _check(num_frames, num_segments)
    if training:
        rng = np.random.default_rng() if rng is None else rng
        average = num_frames // num_segments
        if average > 0:
            return np.arange(num_segments) * average + rng.integers(average, size=num_segments)
        # Shorter than T: fall through to evenly spread, repeated frames (authors: all frame 1).
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index must be in [0, {num_clips}). Received: {clip_index}")
    phase = (0.5 + clip_index / num_clips) % 1.0
    tick = num_frames / num_segments
    indices = (tick * (np.arange(num_segments) + phase)).astype(np.int64)
    return np.minimum(indices, num_frames - 1)


def dense_indices(num_frames: int, clip_len: int, interval: int, *, training: bool,
                  rng: np.random.Generator | None = None, clip_index: int = 0, num_clips: int = 1) -> np.ndarray:
    """`clip_len` frames `interval` apart from a start offset; indices past the end loop (mod n).

    training: random start in ``[0, num_frames - clip_len*interval]``. testing: clip starts evenly spaced
    over the same range (one clip: the centre), as MMAction2's SampleFrames test mode.

    Example:

    ```python
    from keras_gst.data import dense_indices

    # 4 frames 2 apart from the centre of 20 frames (starts 0..12: 6)
    print(dense_indices(20, 4, 2, training=False).tolist())  # [6, 8, 10, 12]
    # a 5-frame video loops
    print(dense_indices(5, 4, 2, training=False).tolist())  # [0, 2, 4, 1]
    ```
    """
    _check(num_frames, clip_len)
    span = clip_len * interval
    max_start = max(num_frames - span, 0)
    if training:
        rng = np.random.default_rng() if rng is None else rng
        start = int(rng.integers(max_start + 1))
    elif num_clips == 1:
        start = max_start // 2
    else:
        start = int(round(clip_index * max_start / (num_clips - 1)))
    return (start + np.arange(clip_len) * interval) % num_frames


def sample_indices(
    num_frames: int, length: int, *, mode: str = "segment", training: bool, rng: np.random.Generator | None = None,
    interval: int = 1, num_clips: int = 1
) -> np.ndarray:
    """Indices for all clips of a video, shape (num_clips * length,), clip-major. `mode`: ``"segment"``
    (`segment_indices`) or ``"dense"`` (`dense_indices`, frames `interval` apart).

    Training always draws one clip (num_clips must be 1).

    Example:

    ```python
    from keras_gst.data import sample_indices

    print(sample_indices(16, 4, training=False, num_clips=2).tolist())  # [2, 6, 10, 14, 0, 4, 8, 12]
    print(sample_indices(20, 4, mode="dense", interval=2, training=False).tolist())  # [6, 8, 10, 12]
    ```
    """
    if mode not in SAMPLING_MODES:
        raise ValueError(f"mode must be one of {SAMPLING_MODES}. Received: mode={mode!r}")
    if training and num_clips != 1:
        raise ValueError(f"training samples one clip per video. Received: num_clips={num_clips}")
    clips = []
    for k in range(num_clips):
        if mode == "segment":
            idx = segment_indices(num_frames, length, training=training, rng=rng, clip_index=k,
                                  num_clips=num_clips)
        else:
            idx = dense_indices(num_frames, length, interval, training=training, rng=rng,
                                clip_index=k, num_clips=num_clips)
        clips.append(idx)
    return np.concatenate(clips).astype(np.int64)
