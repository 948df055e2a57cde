"""Run a streaming GST model frame by frame, whatever its format: one interface over a streaming
.tflite file (any quantization), a streaming SavedModel directory (`init_states` / `call` signatures) and
a .keras model (streamed in process with `StreamingGST`).

    stream = load_stream("gst_stream_int8.tflite")
    states = stream.init_states()                  # zeros: at the start of every video
    for frame in frames:                           # (H, W, 3) normalised float32
        out, states = stream.step(frame, 1.0, states)
        if out["valid"]:                           # out["frame_logits"]: frame (step - stream.delay)
            ...
    # after the last frame, `stream.delay` flush steps with valid=0.0 return the remaining frames

`run(clip)` does all of that for one clip (T, H, W, 3) and returns its per-frame logits (T, classes) and
the clip logits (their mean, computed here, so the int8 file without the clip state gives it too).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable, Sequence

import numpy as np

from keras_gst.checks import is_camera
from keras_gst.errors import DataFileError, ModelFileError


class StreamKindError(ModelFileError):
    """The file is not a streaming model (e.g. a clip model given to `keras-gst stream`).

    Example:

    ```python
    import os
    from keras_gst.export import StreamKindError, load_stream

    os.mkdir("not_a_model")
    try:
        load_stream("not_a_model")
    except StreamKindError as error:
        print(error.param)  # model
    ```
    """


class FrameStream:
    """Common part: shapes, delay and the frame loop. Subclasses set `_init` and `_step`.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import FrameStream, load_stream

    keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3)).save("m.keras")
    stream = load_stream("m.keras")  # also a streaming .tflite file or SavedModel folder
    states = stream.init_states()  # zeros, at the start of every video
    out, states = stream.step(np.zeros((32, 32, 3), "float32"), 1.0, states)  # one normalised frame
    print(isinstance(stream, FrameStream), out["frame_logits"].shape)  # True (2,)
    ```
    """

    kind = "?"

    def __init__(self, path: str | os.PathLike, frame_size: Sequence[int], num_classes: int,
                 state_names: Iterable[str]):
        self.path = os.fspath(path)
        self.frame_size = tuple(int(s) for s in frame_size)  # (H, W)
        self.num_classes = int(num_classes)
        self.state_names = sorted(state_names)
        # one frame of delay per centred GST unit, each of which keeps a `valid` flag as state
        self.delay = sum(1 for n in self.state_names if n.endswith("_valid"))

    def init_states(self):
        """Zero states for one video (batch 1): {"state_<name>": array}."""
        return self._init()

    def step(self, frame, valid, states):
        """One normalised frame (H, W, 3) or (1, H, W, 3); `valid` 1.0 (real frame) or 0.0 (flush).

        Returns ({"frame_logits": (classes,), "valid": bool}, new states).
        """
        frame = np.asarray(frame, np.float32)
        if frame.ndim == 3:
            frame = frame[None]
        if frame.shape != (1,) + self.frame_size + (3,):
            raise ValueError(f"{self.path} takes frames of {self.frame_size[0]}x{self.frame_size[1]}x3, got "
                             f"{frame.shape[1:] if frame.ndim == 4 else frame.shape}")
        out, states = self._step(frame, np.asarray([valid], np.float32), states)
        return {"frame_logits": np.asarray(out["frame_logits"], np.float32)[0],
                "valid": bool(np.asarray(out["valid"])[0] > 0.5)}, states

    def run(self, clip):
        """Stream one normalised clip (T, H, W, 3) from zero states and flush: (frame logits (T, classes),
        clip logits (classes,))."""
        clip = np.asarray(clip, np.float32)
        states = self.init_states()
        frames = []
        for s in range(len(clip) + self.delay):
            real = s < len(clip)
            out, states = self.step(clip[s] if real else np.zeros_like(clip[0]), 1.0 if real else 0.0, states)
            if out["valid"]:
                frames.append(out["frame_logits"])
        frames = np.stack(frames)
        return frames, frames.mean(axis=0)


class TFLiteStream(FrameStream):
    kind = "tflite"

    def __init__(self, path, num_threads=2):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()
        inputs = self.runner.get_input_details()
        if "frame" not in inputs or "valid" not in inputs:
            raise StreamKindError(
                path, f"not a streaming model (inputs: {sorted(inputs)}): export one with "
                "`keras-gst export --format streaming --out M.tflite`, or use `keras-gst predict` for clip models")
        self._inputs = inputs
        classes = self.runner.get_output_details()["frame_logits"]["shape"][-1]
        states = [n for n in inputs if n.startswith("state_")]
        super().__init__(path, inputs["frame"]["shape"][1:3], classes, states)

    def _init(self):
        return {n: np.zeros(self._inputs[n]["shape"], self._inputs[n]["dtype"]) for n in self.state_names}

    def _step(self, frame, valid, states):
        out = self.runner(frame=frame, valid=valid, **states)
        return out, {n: out[n] for n in self.state_names}


class SavedModelStream(FrameStream):
    kind = "savedmodel"

    def __init__(self, path, trust_savedmodel=False):
        import tensorflow as tf

        from keras_gst.export.trust import check_savedmodel

        check_savedmodel(path, trust=trust_savedmodel)  # before any of its functions is restored
        self._tf = tf
        self.loaded = tf.saved_model.load(os.fspath(path))
        signatures = set(self.loaded.signatures)
        if not {"init_states", "call"} <= signatures:
            raise StreamKindError(
                path, f"not a streaming SavedModel (signatures: {sorted(signatures)}, needs init_states and call): "
                "export one with `keras-gst export --format streaming`, or use `keras-gst predict` for clip models")
        self._call = self.loaded.signatures["call"]
        specs = self._call.structured_input_signature[1]
        classes = self._call.structured_outputs["frame_logits"].shape[-1]
        super().__init__(path, specs["frame"].shape[1:3], classes, [n for n in specs if n.startswith("state_")])

    def _init(self):
        states = self.loaded.signatures["init_states"](batch_size=self._tf.constant(1))
        return {n: states[n] for n in self.state_names}

    def _step(self, frame, valid, states):
        out = self._call(frame=self._tf.constant(frame), valid=self._tf.constant(valid), **states)
        return {k: v.numpy() for k, v in out.items() if not k.startswith("state_")}, {n: out[n] for n in self.state_names}


class KerasStream(FrameStream):
    kind = "keras"

    def __init__(self, path, model=None):
        import tensorflow as tf

        from keras_gst.export.rewrite import load_keras_model
        from keras_gst.export.streaming import StreamingGST

        self._tf = tf
        self.stream = StreamingGST(model if model is not None else load_keras_model(path))
        self._fn = tf.function(self.stream.step)
        states = self.stream.init_states(1)
        super().__init__(path, self.stream.frame_shape[:2], self.stream.num_classes, [f"state_{k}" for k in states])

    def _init(self):
        return {f"state_{k}": v for k, v in self.stream.init_states(1).items()}

    def _step(self, frame, valid, states):
        out, new = self._fn(self._tf.constant(frame), self._tf.constant(valid), {n[6:]: v for n, v in states.items()})
        return {k: v.numpy() for k, v in out.items()}, {f"state_{k}": v for k, v in new.items()}


def load_stream(path: str | os.PathLike, num_threads: int = 2, trust_savedmodel: bool = False) -> FrameStream:
    """A `FrameStream` over a streaming .tflite file, a streaming SavedModel directory (its ops checked
    first, see `keras_gst.export.trust`) or a .keras model.

    Raises `ModelFileError` for a missing or unreadable path and `StreamKindError` (a ValueError) for a
    model of the wrong kind (a clip model, an unknown format).

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import load_stream

    keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3)).save("m.keras")
    stream = load_stream("m.keras")  # also a streaming .tflite file or SavedModel folder
    frame_logits, clip_logits = stream.run(np.zeros((4, 32, 32, 3), "float32"))  # one normalised clip
    print(stream.kind, frame_logits.shape, clip_logits.shape)  # keras (4, 2) (2,)
    ```
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(path, "does not exist (expected a model file or folder)")
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise StreamKindError(path, "a directory without saved_model.pb (not a SavedModel)")
        return SavedModelStream(path, trust_savedmodel)
    if path.endswith(".tflite"):
        try:
            return TFLiteStream(path, num_threads=num_threads)
        except StreamKindError:
            raise
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(path, f"not a readable .tflite model ({e})") from None
    if path.endswith(".keras"):
        from keras_gst.models import load_model

        model = load_model(path, compile=False, preprocessor=False)  # ModelFileError for a bad file
        try:
            return KerasStream(path, model)
        except ValueError as e:
            raise StreamKindError(path, f"cannot stream: {e}") from e
    raise StreamKindError(path, "unknown model format: expected a streaming .tflite file, a streaming SavedModel "
                                "directory or a .keras file")


def iter_frames(source, max_frames=None):
    """(RGB uint8 frames, info) of a video file, a frame folder or a camera index; `info["claimed"]`
    is the container's frame count (0 if unknown)."""
    from keras_gst.data import decode

    info = {"claimed": 0}

    def frames():
        if is_camera(source):
            import cv2

            capture = cv2.VideoCapture(int(source))
            if not capture.isOpened():
                raise decode.VideoDecodeError(f"cannot open camera {source}")
            try:
                while True:
                    ok, frame = capture.read()
                    if not ok:
                        return
                    yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            finally:
                capture.release()
        elif os.path.isdir(source):
            template = decode.detect_template(source)
            count = decode.folder_frame_count(source, template)
            info["claimed"] = count
            for i in range(count):
                yield decode.read_frames(decode.frame_paths(source, [i], template))[0]
        else:
            info["claimed"] = decode.claimed_frame_count(source)
            yield from decode.iter_video_frames(source, timeout=86400.0)  # the model runs between frames

    def limited():
        for i, frame in enumerate(frames()):
            if max_frames is not None and i >= max_frames:
                return
            yield frame

    return limited(), info


def stream_source(stream: FrameStream, source: str | os.PathLike, max_frames: int | None = None
                  ) -> Generator[tuple[int, np.ndarray, float], None, tuple[int, int]]:
    """Run one input (video file, frame folder or camera index) through `stream` from zero states: yields
    (frame index, frame logits, ms) for every emitted frame, then flushes. Returns (via
    StopIteration.value) (frames read, frames the container claims or 0).

    Example:

    ```python
    import keras_gst
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.export import load_stream, stream_source

    write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32, num_classes=2)
    keras_gst.GSTResNet18(num_classes=2, weights=None, input_shape=(32, 32, 3)).save("m.keras")
    emitted = list(stream_source(load_stream("m.keras"), "synthetic/videos/c0_train_0000.mp4"))
    print(len(emitted), emitted[0][0], emitted[0][1].shape)  # 8 0 (2,)
    ```
    """
    from keras_gst.export.clips import crop_clips, normalize_clip

    h, w = stream.frame_size
    if h != w:
        raise ModelFileError(stream.path, f"takes {h}x{w} frames; only square crops are supported")
    if not is_camera(source) and not os.path.exists(source):
        raise DataFileError(source, "does not exist (expected a video file, frame folder or camera index)", "video")
    states = stream.init_states()  # reset: nothing leaks from the previous input
    frames, info = iter_frames(source, max_frames)
    count, emitted = 0, 0
    for frame in frames:
        x = normalize_clip(crop_clips(np.asarray(frame)[None], 1, h))[0, 0]
        start = time.perf_counter()
        out, states = stream.step(x, 1.0, states)
        ms = 1e3 * (time.perf_counter() - start)
        count += 1
        if out["valid"]:
            yield emitted, out["frame_logits"], ms
            emitted += 1
    if count == 0:
        raise DataFileError(source, "no frame could be read", "video")
    zero = np.zeros((h, w, 3), np.float32)
    for _ in range(stream.delay):
        start = time.perf_counter()
        out, states = stream.step(zero, 0.0, states)
        ms = 1e3 * (time.perf_counter() - start)
        if out["valid"]:
            yield emitted, out["frame_logits"], ms
            emitted += 1
    return count, info["claimed"]
