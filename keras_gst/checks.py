"""Argument checks of the library workflows, run before any model or video is loaded (stdlib only, so a
command can refuse a bad flag without importing TensorFlow).

Each check raises a `keras_gst.errors` typed error whose `param` is the keyword argument it names; the
command line maps it to its flag. `check_predict_args`, `check_eval_args` and `check_stream_args` are what
`keras_gst.export.predict`, `evaluate_model` and `stream_source` / `load_stream` check first.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from keras_gst.errors import DataFileError, ModelFileError, ParameterError

FRAMES_RANGE = (1, 256)  # T, frames per clip
SIZE_RANGE = (32, 1024)  # crop size: the network downsamples 32x
CROPS = (1, 3, 5, 10)
MAX_VIEWS = 100  # clips x crops per video
MAX_THREADS = 256
MAX_RUNS = 1000


def check_range(param: str, value: float | None, low: float | None = None, high: float | None = None,
                allow_none: bool = True) -> float | None:
    """`value` (an int/float, or None when `allow_none`) within [low, high], else `ParameterError(param)`.

    Example:

    ```python
    from keras_gst.checks import check_range
    from keras_gst.errors import ParameterError

    print(check_range("top_k", 5, 1, None))  # 5
    try:
        check_range("alpha", 1.0, 0.0, 0.5)
    except ParameterError as error:
        print(error.param, "|", error)  # alpha | alpha: must be >= 0.0 and <= 0.5, got 1.0
    ```
    """
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ParameterError(param, f"must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(b for b in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "") if b)
        raise ParameterError(param, f"must be {bounds}, got {value}")
    return value


def check_input(param: str, path: str | os.PathLike | None, what: str = "file or folder") -> str | os.PathLike:
    """An existing path to read; `DataFileError(path, ..., param)` when it does not exist.

    Example:

    ```python
    from keras_gst.checks import check_input
    from keras_gst.errors import DataFileError

    try:
        check_input("labels", "missing.txt", "class name file")
    except DataFileError as error:
        print(error.param)  # labels
    ```
    """
    if path is None or not os.path.exists(path):
        raise DataFileError(path, f"does not exist (expected a {what})", param)
    return path


def check_inputs(param: str, paths: Iterable[str | os.PathLike | None], what: str = "file or folder") -> None:
    """Several inputs, each processed on its own: refused only when none exists (a missing one among
    others is the workflow's counted failure).

    Example:

    ```python
    from keras_gst.checks import check_inputs
    from keras_gst.errors import DataFileError

    open("a.mp4", "wb").close()
    check_inputs("video", ["a.mp4", "missing.mp4"])  # passes: one exists
    try:
        check_inputs("video", ["missing.mp4"])
    except DataFileError as error:
        print(error.param)  # video
    ```
    """
    paths = list(paths)
    if paths and not any(p is not None and os.path.exists(p) for p in paths):
        check_input(param, paths[0], what)


def check_output(param: str, path: str | os.PathLike, directory: bool = False) -> str:
    """A path that can be written: a file (not a folder) or, with `directory=True`, a folder (not a file).
    Missing folders are fine (the writers create them) when the nearest existing ancestor is a folder;
    a real write probe there catches permissions, read-only mounts and a full quota.

    Example:

    ```python
    import os
    from keras_gst.checks import check_output
    from keras_gst.errors import ParameterError

    print(check_output("out", "new/folder/model.tflite"))  # new/folder/model.tflite
    os.mkdir("taken")
    try:
        check_output("out", "taken")  # a folder where a file is wanted
    except ParameterError as error:
        print(error.param)  # out
    ```
    """
    path = os.fspath(path)
    if not path.strip():  # before: `export --out ''` renamed its SavedModel onto '' (an OSError after the work)
        raise ParameterError(param, f"is empty: name a {'folder' if directory else 'file'}")
    if os.path.exists(path) and os.path.isdir(path) != directory:
        raise ParameterError(param, f"{path} is a file, not a folder: choose another path" if directory
                             else f"{path} is a folder; name a file")
    existing = os.path.abspath(path) if directory else os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ParameterError(param, f"{existing} is a file, not a folder, so {path} cannot be written")
    try:  # a real write: permissions, read-only mounts and a full disk's quota all show here
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ParameterError(param, f"cannot write in {existing} (for {path}): {e.strerror or e}") from None
    return path


def check_model_path(model: Any, param: str = "model") -> None:
    """A model path that exists and looks like a .keras file, keras-hub preset, .tflite file or SavedModel
    (anything with a `path` attribute, e.g. a loaded `Predictor`, passes).

    Example:

    ```python
    from keras_gst.checks import check_model_path
    from keras_gst.errors import ModelFileError

    open("old.h5", "wb").close()
    try:
        check_model_path("old.h5")
    except ModelFileError as error:
        print(error.param)  # model
    ```
    """
    if hasattr(model, "path") and not isinstance(model, (str, os.PathLike)):
        return
    path = os.fspath(model) if model is not None else None
    if path is None or not os.path.exists(path):
        raise ModelFileError(path, "does not exist (expected a model file or folder)", param)
    if os.path.isdir(path):
        if not any(os.path.isfile(os.path.join(path, f)) for f in ("saved_model.pb", "config.json")):
            raise ModelFileError(path, "a folder without saved_model.pb or config.json: neither a SavedModel nor a "
                                       "keras-hub preset", param)
    elif not path.endswith((".keras", ".tflite")):
        raise ModelFileError(path, "not a .keras file, a keras-hub preset folder, a .tflite file or a SavedModel "
                                   "folder (keras_gst does not read legacy .h5 models)", param)


def check_integer(param: str, value: float | None, low: int, high: int | None = None) -> float | None:
    """`value` a whole number (an int, or an integral float or NumPy number) in [low, high] (no upper bound when
    `high` is None), or None; else `ParameterError(param)`. NaN and infinity are refused like any other
    non-integer.

    Example:

    ```python
    from keras_gst.checks import check_integer
    from keras_gst.errors import ParameterError

    print(check_integer("threads", 4, 1, 256))  # 4
    try:
        check_integer("max_calibration_clips", float("nan"), 1)
    except ParameterError as error:
        print(error)  # max_calibration_clips: must be an integer >= 1, got nan
    ```
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                              or not math.isfinite(value) or value != int(value)
                              or value < low or (high is not None and value > high)):
        bounds = f">= {low}" + (f" and <= {high}" if high is not None else "")
        raise ParameterError(param, f"must be an integer {bounds}, got {value!r}")
    return value


def check_num_frames(num_frames: int | None) -> int | None:
    """Frames per clip T: an integer in `FRAMES_RANGE` (1 to 256), or None where a model accepts any T. The one
    check of T: the models (`keras_gst.models.specs.check_model`), `keras_gst.data.DataSpec`, the workflows and
    the command line's --frames use it.

    Example:

    ```python
    from keras_gst.checks import check_num_frames
    from keras_gst.errors import ParameterError

    print(check_num_frames(8))  # 8
    try:
        check_num_frames(0)
    except ParameterError as error:
        print(error)  # num_frames: must be an integer >= 1 and <= 256, got 0
    ```
    """
    return check_integer("num_frames", num_frames, *FRAMES_RANGE)


def check_views(num_frames: int | None = None, size: int | None = None, num_clips: int = 1, num_crops: int = 1,
                scale_size: int | None = None) -> None:
    """T, crop size, short side and the multi-view counts (clips x crops).

    Example:

    ```python
    from keras_gst.checks import check_views
    from keras_gst.errors import ParameterError

    check_views(num_frames=8, size=224, num_clips=2, num_crops=3, scale_size=256)  # passes
    try:
        check_views(num_crops=4)
    except ParameterError as error:
        print(error.param)  # num_crops
    ```
    """
    check_num_frames(num_frames)
    check_range("size", size, *SIZE_RANGE)
    check_range("scale_size", scale_size, SIZE_RANGE[0], 2 * SIZE_RANGE[1])
    if scale_size is not None and size is not None and scale_size < size:
        raise ParameterError("scale_size", f"{scale_size} is smaller than the crop size {size}")
    check_range("num_clips", num_clips, 1, MAX_VIEWS, allow_none=False)
    if num_crops not in CROPS:
        raise ParameterError("num_crops", f"must be one of {', '.join(map(str, CROPS))}, got {num_crops!r}")
    if num_clips * num_crops > MAX_VIEWS:
        raise ParameterError("num_clips", f"{num_clips} clips x {num_crops} crops is over {MAX_VIEWS} views per video")


def check_predict_args(model: Any, videos: str | os.PathLike | Sequence[str | os.PathLike],
                       labels: str | os.PathLike | Sequence[str] | None = None, top_k: int = 5,
                       num_frames: int | None = None, size: int | None = None, num_clips: int = 1, num_crops: int = 1,
                       timing: bool = False, runs: int = 5, num_threads: int = 2) -> None:
    """Raise the error `keras_gst.export.predict` would raise for these arguments, before anything is loaded.

    Example:

    ```python
    from keras_gst.checks import check_predict_args
    from keras_gst.errors import ParameterError

    try:
        check_predict_args("model.keras", ["clip.mp4"], top_k=0)  # checked before the files
    except ParameterError as error:
        print(error.param)  # top_k
    ```
    """
    check_range("top_k", top_k, 1, None, allow_none=False)
    check_views(num_frames, size, num_clips, num_crops)
    check_range("runs", runs, 1, MAX_RUNS, allow_none=False)
    check_range("num_threads", num_threads, 1, MAX_THREADS, allow_none=False)
    if timing and num_clips * num_crops > 1:
        raise ParameterError("timing", "measures a single view: use one clip and one crop with it")
    check_model_path(model)
    if isinstance(labels, (str, os.PathLike)):
        check_input("labels", labels, "class name file")
    check_inputs("video", [videos] if isinstance(videos, (str, os.PathLike)) else videos, "video file or frame folder")


def check_eval_args(model: Any, num_frames: int | None = None, size: int | None = None, scale_size: int | None = None,
                    num_clips: int = 1, num_crops: int = 1, average: str = "logits", batch_size: int = 4,
                    max_batches: int | None = None, output_dir: str | os.PathLike | None = None,
                    num_threads: int = 2) -> None:
    """Raise the error `keras_gst.export.evaluate_model` would raise for these arguments, before anything
    is loaded (the annotations are checked by `evaluate_model` itself).

    Example:

    ```python
    from keras_gst.checks import check_eval_args
    from keras_gst.errors import ParameterError

    try:
        check_eval_args("model.keras", size=224, scale_size=128)
    except ParameterError as error:
        print(error.param)  # scale_size
    ```
    """
    check_views(num_frames, size, num_clips, num_crops, scale_size)
    if average not in ("logits", "softmax"):
        raise ParameterError("average", f"must be 'logits' or 'softmax', got {average!r}")
    check_range("batch_size", batch_size, 1, 4096, allow_none=False)
    check_range("max_batches", max_batches, 1, None)
    check_range("num_threads", num_threads, 1, MAX_THREADS, allow_none=False)
    check_model_path(model)
    if output_dir is not None:
        check_output("output_dir", output_dir, directory=True)


def is_camera(source: str | os.PathLike) -> bool:
    """A camera index ("0", "1", ...) that is not also a file or folder name.

    Example:

    ```python
    from keras_gst.checks import is_camera

    print(is_camera("0"), is_camera("clip.mp4"))  # True False
    ```
    """
    return str(source).isdigit() and not os.path.exists(source)


def check_stream_args(model: str | os.PathLike | None, sources: Sequence[str | os.PathLike],
                      labels: str | os.PathLike | None = None, top_k: int = 5, num_threads: int = 2,
                      max_frames: int | None = None, plot: str | os.PathLike | None = None) -> None:
    """Raise the error `load_stream` / `stream_source` would raise for these arguments, before loading.

    Example:

    ```python
    from keras_gst.checks import check_stream_args
    from keras_gst.errors import ModelFileError

    try:
        check_stream_args("missing_stream.tflite", ["0"])  # "0": the first camera
    except ModelFileError as error:
        print(error.param)  # model
    ```
    """
    check_range("top_k", top_k, 1, None, allow_none=False)
    check_range("num_threads", num_threads, 1, MAX_THREADS, allow_none=False)
    check_range("max_frames", max_frames, 1, None)
    if model is None or not os.path.exists(model):
        raise ModelFileError(model, "does not exist (expected a model file or folder)")
    if labels is not None:
        check_input("labels", labels, "class name file")
    check_inputs("video", [s for s in sources if not is_camera(s)], "video file, frame folder or camera index")
    if plot is not None:
        check_output("plot", plot)
