"""Argument checks of the library workflows, run before any model or video is loaded (stdlib only, so a
command can refuse a bad flag without importing TensorFlow).

Each check raises a `keras_gst.errors` typed error whose `param` is the keyword argument it names; the
command line maps it to its flag. `check_predict_args`, `check_eval_args` and `check_stream_args` are what
`keras_gst.export.predict`, `evaluate_model` and `stream_source` / `load_stream` check first.
"""

import os
import tempfile

from keras_gst.errors import DataFileError, ModelFileError, ParameterError

FRAMES_RANGE = (1, 256)  # T
SIZE_RANGE = (32, 1024)  # crop size: the network downsamples 32x
CROPS = (1, 3, 5, 10)
MAX_VIEWS = 100  # clips x crops per video
MAX_THREADS = 256
MAX_RUNS = 1000


def check_range(param, value, low=None, high=None, allow_none=True):
    """`value` (an int/float, or None when `allow_none`) within [low, high], else `ParameterError(param)`."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ParameterError(param, f"must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(b for b in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "") if b)
        raise ParameterError(param, f"must be {bounds}, got {value}")
    return value


def check_input(param, path, what="file or folder"):
    """An existing path to read; `DataFileError(path, ..., param)` when it does not exist."""
    if path is None or not os.path.exists(path):
        raise DataFileError(path, f"does not exist (expected a {what})", param)
    return path


def check_inputs(param, paths, what="file or folder"):
    """Several inputs, each processed on its own: refused only when none exists (a missing one among
    others is the workflow's counted failure)."""
    paths = list(paths)
    if paths and not any(p is not None and os.path.exists(p) for p in paths):
        check_input(param, paths[0], what)


def check_output(param, path, directory=False):
    """A path that can be written: a file (not a folder) or, with `directory=True`, a folder (not a file).
    Missing folders are fine (the writers create them) when the nearest existing ancestor is a folder;
    a real write probe there catches permissions, read-only mounts and a full quota."""
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


def check_model_path(model, param="model"):
    """A model path that exists and looks like a .keras file, keras-hub preset, .tflite file or SavedModel
    (anything with a `path` attribute, e.g. a loaded `Predictor`, passes)."""
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


def check_views(num_frames=None, size=None, num_clips=1, num_crops=1, scale_size=None):
    """T, crop size, short side and the multi-view counts (clips x crops)."""
    check_range("num_frames", num_frames, *FRAMES_RANGE)
    check_range("size", size, *SIZE_RANGE)
    check_range("scale_size", scale_size, SIZE_RANGE[0], 2 * SIZE_RANGE[1])
    if scale_size is not None and size is not None and scale_size < size:
        raise ParameterError("scale_size", f"{scale_size} is smaller than the crop size {size}")
    check_range("num_clips", num_clips, 1, MAX_VIEWS, allow_none=False)
    if num_crops not in CROPS:
        raise ParameterError("num_crops", f"must be one of {', '.join(map(str, CROPS))}, got {num_crops!r}")
    if num_clips * num_crops > MAX_VIEWS:
        raise ParameterError("num_clips", f"{num_clips} clips x {num_crops} crops is over {MAX_VIEWS} views per video")


def check_predict_args(model, videos, labels=None, top_k=5, num_frames=None, size=None, num_clips=1, num_crops=1,
                       timing=False, runs=5, num_threads=2):
    """Raise the error `keras_gst.export.predict` would raise for these arguments, before anything is loaded."""
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


def check_eval_args(model, num_frames=None, size=None, scale_size=None, num_clips=1, num_crops=1, average="logits",
                    batch_size=4, max_batches=None, output_dir=None, num_threads=2):
    """Raise the error `keras_gst.export.evaluate_model` would raise for these arguments, before anything
    is loaded (the annotations are checked by `evaluate_model` itself)."""
    check_views(num_frames, size, num_clips, num_crops, scale_size)
    if average not in ("logits", "softmax"):
        raise ParameterError("average", f"must be 'logits' or 'softmax', got {average!r}")
    check_range("batch_size", batch_size, 1, 4096, allow_none=False)
    check_range("max_batches", max_batches, 1, None)
    check_range("num_threads", num_threads, 1, MAX_THREADS, allow_none=False)
    check_model_path(model)
    if output_dir is not None:
        check_output("output_dir", output_dir, directory=True)


def is_camera(source):
    """A camera index ("0", "1", ...) that is not also a file or folder name."""
    return str(source).isdigit() and not os.path.exists(source)


def check_stream_args(model, sources, labels=None, top_k=5, num_threads=2, max_frames=None, plot=None):
    """Raise the error `load_stream` / `stream_source` would raise for these arguments, before loading."""
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
