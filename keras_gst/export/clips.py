"""Real clips for calibration, parity reports and `keras-gst predict`, through `keras_gst.data`.

A clip is the evaluation view of a video, exactly as `keras_gst.data.build_dataset(training=False)`
makes it: TSN test sampling (the middle frame of each of T segments), the short side resized to
`size * 256 / 224` and a centre crop `size` x `size` in one bilinear resampling. Decoding and the crop
are kept apart here so `predict --timing` can time them separately.

Clips are float32 RGB pixel values in [0, 255], shape (T, size, size, 3) (not yet normalised);
`model_input(clips, dtype)` turns them into what a model file takes: float32 normalised by the classifier's
preprocessor (`normalize_clip`), or rounded uint8 pixels for models exported with `input_dtype="uint8"`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

import keras

from keras_gst.data import VideoDecodeError, load_video_clip, read_list_file, sample_indices
from keras_gst.data import decode as _decode
from keras_gst.data.annotations import is_video_path

FRAME_EXTENSIONS = (".jpg", ".jpeg")
_READ_ERRORS = (VideoDecodeError, FileNotFoundError, OSError, ValueError)
logger = logging.getLogger(__name__)


class ClipReadError(VideoDecodeError):
    """A video or frame folder that cannot be read; the message names the file and the reason.

    Example:

    ```python
    from keras_gst.export import ClipReadError, load_clips

    try:
        load_clips("missing_folder", num_frames=4, size=32)
    except ClipReadError as error:
        print(error)  # missing_folder does not exist
    ```
    """


def scale_size_for(size):
    """Short side before the centre crop: 256 for a 224 crop (the authors' ratio)."""
    return int(round(size * 256 / 224))


def _is_frame_folder(path):
    return os.path.isdir(path) and any(f.lower().endswith(FRAME_EXTENSIONS) for f in os.listdir(path))


def decode_clips(path, num_frames, num_clips=1, record_frames=None, offset=0):
    """Decode the TSN test frames of a video file or frame folder: (num_clips * T, H, W, 3) uint8 RGB,
    clip-major (clip k at phase (1/2 + k/num_clips) of each segment)."""
    path = os.fspath(path)

    def sample(n):
        return sample_indices(n, num_frames, training=False, num_clips=num_clips)

    try:
        if os.path.isdir(path):
            template = _decode.detect_template(path)
            count = _decode.folder_frame_count(path, template) - offset
            if record_frames is not None:
                count = min(count, record_frames)
            if count <= 0:
                raise ClipReadError(f"frame folder {path} has no frames named {template!r}")
            return _decode.read_frames(_decode.frame_paths(path, sample(count) + offset, template))
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist")
        frames, _ = load_video_clip(path, sample, num_frames=record_frames, offset=offset)
        return frames
    except ClipReadError:
        raise
    except _READ_ERRORS as e:
        raise ClipReadError(f"cannot read {path}: {e}") from e


def crop_clips(frames, num_frames, size):
    """(num_clips * T, H, W, 3) decoded frames -> (num_clips, T, size, size, 3) float32 pixels, with
    the evaluation centre crop of `keras_gst.data.transforms`."""
    from keras_gst.data import transforms

    h, w = frames.shape[1:3]
    scale = scale_size_for(size)
    boxes, flips = transforms.view_crop_boxes(h, w, 1, scale_size=scale, crop_size=size)
    views = transforms.crop_resize(frames, boxes, size, flips, scale)
    return np.asarray(views, np.float32).reshape(-1, num_frames, size, size, 3)


def load_video_clips(path, num_frames, size, num_clips=1, timings=None, record_frames=None, offset=0):
    """The evaluation views of a video or frame folder: (num_clips, T, size, size, 3) float32 pixels.

    `timings`, if a dict, receives "decode" and "preprocess" wall times in seconds.
    """
    start = time.perf_counter()
    frames = decode_clips(path, num_frames, num_clips, record_frames, offset)
    mid = time.perf_counter()
    clips = crop_clips(frames, num_frames, size)
    if timings is not None:
        timings["decode"] = mid - start
        timings["preprocess"] = time.perf_counter() - mid
    return clips


def load_clip(path: str | os.PathLike, num_frames: int, size: int, timings: dict | None = None) -> np.ndarray:
    """The evaluation view of a video or frame folder: (T, size, size, 3) float32 pixels in [0, 255].

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.export import load_clip

    write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    timings = {}
    clip = load_clip("synthetic/videos/c0_train_0000.mp4", num_frames=4, size=32, timings=timings)
    print(clip.shape, clip.dtype, 0 <= clip.min() <= clip.max() <= 255)  # (4, 32, 32, 3) float32 True
    print(sorted(timings))  # ['decode', 'preprocess']
    ```
    """
    return load_video_clips(path, num_frames, size, 1, timings)[0]


def normalize_clip(clips: ArrayLike) -> np.ndarray:
    """Pixels in [0, 255], (..., T, H, W, 3) -> float32 NumPy frames as the Keras models take them: the
    classifier's normalisation (`keras_gst.models.gst_video_classifier_preprocessor.normalize_clips`).

    Example:

    ```python
    import numpy as np
    from keras_gst.export import normalize_clip

    x = normalize_clip(np.full((4, 32, 32, 3), 255.0))  # white: (1 - mean) / std per channel
    print(x.shape, [round(float(v), 3) for v in x[0, 0, 0]])  # (4, 32, 32, 3) [2.249, 2.429, 2.64]
    ```
    """
    from keras_gst.models.gst_video_classifier_preprocessor import normalize_clips

    clips = np.asarray(clips)
    if clips.ndim < 4:
        raise ValueError(f"normalize_clip takes (..., T, H, W, 3) clips, got shape {clips.shape}")
    x = normalize_clips(clips.reshape((-1,) + clips.shape[-4:]))
    return keras.ops.convert_to_numpy(x).reshape(clips.shape)


def to_uint8(clips):
    return np.clip(np.round(np.asarray(clips, np.float32)), 0, 255).astype(np.uint8)


def model_input(clips: ArrayLike, input_dtype: str) -> np.ndarray:
    """Pixel clips -> a model file's input: "uint8" rounded pixels, or "float32" normalised frames.

    Example:

    ```python
    import numpy as np
    from keras_gst.export import model_input

    clips = np.full((1, 4, 32, 32, 3), 127.6, "float32")
    print(model_input(clips, "uint8").dtype, model_input(clips, "uint8").max())  # uint8 128
    print(model_input(clips, "float32").dtype)  # float32
    ```
    """
    return to_uint8(clips) if input_dtype == "uint8" else normalize_clip(clips)


def find_sources(source, root=None):
    """(path, num_frames or None, offset) items named by `source`: a video, a frame folder, a directory
    searched recursively for both, or a list file read with `keras_gst.data.read_list_file`."""
    source = os.fspath(source)
    if os.path.isfile(source) and not is_video_path(source):
        try:
            records = read_list_file(source, root)
        except (ValueError, OSError) as e:
            raise ClipReadError(f"cannot read list file {source}: {e}") from e
        return [(r.path, r.num_frames, r.offset) for r in records]
    if os.path.isfile(source) or _is_frame_folder(source):
        return [(source, None, 0)]
    if os.path.isdir(source):
        found = []
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            if dirpath != source and _is_frame_folder(dirpath):
                found.append((dirpath, None, 0))
            found.extend((os.path.join(dirpath, f), None, 0) for f in sorted(filenames) if is_video_path(f))
        if not found:
            raise ClipReadError(f"no videos or frame folders under {source}")
        return found
    raise ClipReadError(f"{source} does not exist")


def load_clips(sources: str | os.PathLike | Sequence[str | os.PathLike], num_frames: int, size: int,
               clips_per_video: int = 1, max_clips: int | None = None, root: str | os.PathLike | None = None,
               skipped: list | None = None) -> tuple[np.ndarray, list[str]]:
    """Pixel clips (N, T, size, size, 3) float32 from every source (see `find_sources`),
    `clips_per_video` temporal views each (TSN test phases), at most `max_clips`. Returns (clips, names).

    An item that cannot be read (an empty or broken video, a frame folder without frames) is skipped: a
    logged warning naming it, and (path, reason) appended to `skipped` (a list) when given. Only when no
    item can be read is it an error (`ClipReadError` naming the skipped items). A source that does not
    exist, or a directory without videos, is an error at once.

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.export import load_clips

    train_list, _, _ = write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    clips, names = load_clips(train_list, num_frames=4, size=32, clips_per_video=2)  # 2 videos, 2 views each
    print(clips.shape, names[0].endswith(".mp4#0"))  # (4, 4, 32, 32, 3) True
    ```
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    items = [item for s in sources for item in find_sources(s, root)]
    clips, names, failed = [], [], []
    for path, record_frames, offset in items:
        if max_clips is not None and len(clips) >= max_clips:
            break
        try:
            views = load_video_clips(path, num_frames, size, clips_per_video, record_frames=record_frames, offset=offset)
        except ClipReadError as e:
            failed.append((path, str(e)))
            logger.warning("skipped %s (unreadable): %s", path, e)
            continue
        for k, clip in enumerate(views):
            clips.append(clip)
            names.append(f"{path}#{k}" if clips_per_video > 1 else path)
    if skipped is not None:
        skipped.extend(failed)
    if not clips:
        reasons = "; ".join(reason for _, reason in failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
        raise ClipReadError(f"no readable clip in {[os.fspath(s) for s in sources]}: {reasons}")
    return np.stack(clips[:max_clips]), names[:max_clips]
