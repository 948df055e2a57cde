"""Decoding: video files with OpenCV (PyAV fallback), frame-folder JPEGs with OpenCV.

Only the frames a clip needs are decoded: frames in between are skipped with `grab()` (no colour
conversion), long gaps are crossed with a seek. Container frame counts are not trusted: when a video
ends before a requested index, the true count is remembered (per process), a warning names the file,
and the clip is sampled again from the frames that really decode. A video OpenCV cannot read at all
(e.g. AV1 without a decoder) is read with PyAV. Every decode has a wall-clock deadline, opening the file
included (the open runs in a helper thread that is abandoned when the deadline passes); FIFOs, devices,
sockets and directories are refused before any open (reading a FIFO blocks until a writer appears).

The readers live in `video_readers` (which also keeps OpenCV's and FFmpeg's own log lines off stderr),
frame folders in `jpeg_frames`, the errors in `decode_errors`; this module is the one to import.
"""

import itertools
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence

import cv2
import numpy as np

from keras_gst.data.decode_errors import DecodeTimeoutError, ShortVideoError, VideoDecodeError, VideoEnded
from keras_gst.data.jpeg_frames import (  # noqa: F401 (re-exported: decode.read_frames etc.)
    FRAME_TEMPLATES,
    decode_jpegs,
    detect_template,
    folder_frame_count,
    frame_paths,
    jpeg_damage,
    read_frame_bytes,
    read_frames,
)
from keras_gst.data.spec import DEFAULT_TIMEOUT  # noqa: F401 (seconds per video; re-exported)
from keras_gst.data.video_readers import open_reader, show_decoder_logs  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)

SEEK_THRESHOLD = 128  # frames; shorter gaps are crossed with grab()

# Per-process memory of what decoding taught us: true frame counts and videos OpenCV cannot read.
_true_counts = {}
_claimed_counts = {}
_needs_pyav = set()
_warned = set()


def warn_once(key, message, *args):
    """Log a warning once per process for `key` (e.g. a file), not on every epoch."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def check_file(path, what="video"):
    """Missing, empty or special files (FIFO, device, socket, directory) fail early with the file's name,
    before anything opens them (`os.stat` does not block on a FIFO; `open` does)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    if stat.S_ISDIR(mode):
        raise VideoDecodeError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise VideoDecodeError(f"{what} {path} is not a regular file (a FIFO, device or socket); refused: reading "
                               "it could block forever")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{what} file is empty (0 bytes): {path}; re-download or remove it")


def _decode(path, indices, backend, deadline, timeout, seek_threshold):
    wanted = sorted(set(int(i) for i in indices))
    reader = open_reader(path, backend, timeout, deadline)
    try:
        got = dict(reader.frames(wanted, deadline, path, timeout, seek_threshold))
    finally:
        reader.close()
    return np.stack([got[int(i)] for i in indices])


def read_video_frames(path: str | os.PathLike, indices: Sequence[int] | np.ndarray, *,
                      timeout: float = DEFAULT_TIMEOUT, seek_threshold: int = SEEK_THRESHOLD,
                      backend: str = "auto") -> np.ndarray:
    """Decode the frames at 0-based `indices` (any order, repeats allowed): (len, H, W, 3) uint8 RGB.
    `backend`: ``"auto"`` (OpenCV, then PyAV), ``"opencv"`` or ``"pyav"``.

    Raises ShortVideoError if the video ends before the largest index (with the number of frames that
    decode), VideoDecodeError if it cannot be decoded, FileNotFoundError if it does not exist.

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import read_video_frames

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):  # 8 frames of 64x48
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    frames = read_video_frames("clip.mp4", [7, 0, 0])
    print(frames.shape, frames.dtype)  # (3, 48, 64, 3) uint8
    ```
    """
    path = os.fspath(path)
    check_file(path)
    deadline = time.monotonic() + timeout
    backends = ["pyav"] if backend == "pyav" or path in _needs_pyav else ["opencv", "pyav"]
    if backend == "opencv":
        backends = ["opencv"]
    errors = []
    for name in backends:
        try:
            return _decode(path, indices, name, deadline, timeout, seek_threshold)
        except VideoEnded as short:
            if short.decoded > 0 or name == backends[-1]:
                raise ShortVideoError(path, short.decoded, int(max(indices))) from None
            errors.append(f"{name} decoded 0 frames")
            _needs_pyav.add(path)  # e.g. AV1 without an OpenCV decoder: go to PyAV directly next time
        except DecodeTimeoutError:
            raise
        except VideoDecodeError as e:
            errors.append(str(e))
    raise VideoDecodeError(f"cannot decode video {path} ({'; '.join(errors)}); "
                           "check the file with ffprobe, re-encode it (H.264) or remove it")


def count_video_frames(path: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """The number of frames that really decode (not the container's claim); remembered per process.

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import count_video_frames

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):  # 8 frames of 64x48
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    print(count_video_frames("clip.mp4"))  # 8
    ```
    """
    path = os.fspath(path)
    if path in _true_counts:
        return _true_counts[path]
    check_file(path)
    deadline = time.monotonic() + timeout
    n = 0
    for name in ("opencv", "pyav"):
        if name == "opencv" and path in _needs_pyav:
            continue
        try:
            reader = open_reader(path, name, timeout, deadline)
        except DecodeTimeoutError:
            raise
        except VideoDecodeError:
            continue
        try:
            n = reader.count(deadline, path, timeout)
        finally:
            reader.close()
        if n > 0:
            break
        _needs_pyav.add(path)
    if n == 0:
        raise VideoDecodeError(f"cannot decode any frame of video {path}; check the file with "
                               "ffprobe, re-encode it (H.264) or remove it")
    _true_counts[path] = n
    return n


def iter_video_frames(path: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[np.ndarray]:
    """Yield every decodable frame (H, W, 3) uint8 RGB: OpenCV, or PyAV if OpenCV decodes none.

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import iter_video_frames

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):  # 8 frames of 64x48
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    shapes = {frame.shape for frame in iter_video_frames("clip.mp4")}
    print(shapes)  # {(48, 64, 3)}
    ```
    """
    path = os.fspath(path)
    check_file(path)
    deadline = time.monotonic() + timeout
    errors = []
    for name in ("opencv", "pyav"):
        try:
            reader = open_reader(path, name, timeout, deadline)
        except DecodeTimeoutError:
            raise
        except VideoDecodeError as e:
            errors.append(str(e))
            continue
        n = 0
        try:
            for _, frame in reader.frames(itertools.count(), deadline, path, timeout, SEEK_THRESHOLD):
                n += 1
                yield frame
        except VideoEnded:
            pass
        finally:
            reader.close()
        if n > 0:
            return
        errors.append(f"{name} decoded 0 frames")
    raise VideoDecodeError(f"cannot decode video {path} ({'; '.join(errors)}); check the file with "
                           "ffprobe, re-encode it (H.264) or remove it")


def claimed_frame_count(path, *, timeout=DEFAULT_TIMEOUT):
    """The container's frame count (a claim: can be too high, or 0), OpenCV then PyAV; remembered per
    process, so a clip costs one open of the video."""
    path = os.fspath(path)
    if path not in _claimed_counts:
        check_file(path)
        claimed = 0
        for name in ("opencv", "pyav"):
            try:
                reader = open_reader(path, name, timeout)
            except DecodeTimeoutError:
                raise
            except VideoDecodeError:
                continue
            claimed = reader.claimed
            reader.close()
            if claimed > 0:
                break
        _claimed_counts[path] = claimed
    return _claimed_counts[path]


def load_video_clip(path: str | os.PathLike, sample: Callable[[int], np.ndarray], *, num_frames: int | None = None,
                    offset: int = 0, timeout: float = DEFAULT_TIMEOUT,
                    seek_threshold: int = SEEK_THRESHOLD) -> tuple[np.ndarray, int]:
    """Decode the clip `sample(n)` picks from a video's `n` frames (0-based, relative to `offset`).

    `n` is `num_frames` if given, else the true count if known, else the container's claim. If the
    video turns out shorter, the true count is remembered, a warning names the file, and `sample` is
    called again with the frames that decode. Returns (frames (len, H, W, 3) uint8 RGB, n).

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import load_video_clip, segment_indices

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):  # 8 frames of 64x48
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    frames, n = load_video_clip("clip.mp4", lambda n: segment_indices(n, 4, training=False))
    print(frames.shape, n)  # (4, 48, 64, 3) 8
    # the middle frames of 4 segments of 2 (frame t has brightness 30 * t, up to the codec's loss)
    print(np.round(frames[:, 0, 0, 0] / 30).astype(int).tolist())  # [1, 3, 5, 7]
    ```
    """
    path = os.fspath(path)
    check_file(path)
    if path in _true_counts:
        available = _true_counts[path] - offset
        n = available if num_frames is None else min(num_frames, available)
    elif num_frames is not None:
        n = num_frames
    else:
        n = claimed_frame_count(path, timeout=timeout) - offset
        if n <= 0:  # no usable claim (e.g. some webm): count by decoding once
            n = count_video_frames(path, timeout=timeout) - offset
    if n <= 0:
        raise VideoDecodeError(f"{path} has no frames at offset {offset}")
    indices = sample(n)
    try:
        return read_video_frames(path, indices + offset, timeout=timeout,
                                 seek_threshold=seek_threshold), n
    except ShortVideoError:
        if path in _true_counts:
            raise
    true_count = count_video_frames(path, timeout=timeout)
    warn_once(path, "%s: expected %d frames from frame %d, only %d decode; sampling from those",
               path, n, offset, true_count)
    n = true_count - offset
    if n <= 0:
        raise VideoDecodeError(f"{path} has only {true_count} decodable frames, the segment starts at "
                               f"frame {offset}")
    return read_video_frames(path, sample(n) + offset, timeout=timeout,
                             seek_threshold=seek_threshold), n


def resize_short_side(frame, short_side):
    """One (H, W, 3) frame with its short side resized to `short_side` (INTER_AREA down, LINEAR up)."""
    h, w = frame.shape[:2]
    if not short_side or min(h, w) == short_side:
        return frame
    scale = short_side / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def shrink_frames(frames, short_side):
    """(N, H, W, 3) frames with a short side above `short_side` -> resized to it; smaller ones kept."""
    if not short_side or min(frames.shape[1:3]) <= short_side:
        return frames
    return np.stack([resize_short_side(f, short_side) for f in frames])
