"""Streaming GST: frames in one at a time, with the temporal context as explicit state.

The network steps itself (MoViNet style): every unit knows its frame-by-frame mode (`stream_step`, state
in, state out; `keras_gst.layers.conv_unit.ConvUnit`), and `GSTVideoClassifier.stream_step` walks the
clip model's own graph with it (`keras_gst.models.gst_backbone.ResNetLayers.walk`). GST's temporal
convolution is centred ("same" in time): output frame t needs input frame t+1, so a stream that reproduces
the offline model exactly delays each GST unit by one frame (residual shortcuts are delayed to match).
Frames carry a `valid` flag (delayed with them): an invalid frame enters the temporal convolutions as
zeros, which is exactly the offline zero padding at the clip end, so after the last real frame, `delay`
flush steps with ``valid=0`` return the remaining frames. Per-frame logits of the stream equal
`per_frame_model(model)`'s, and the running mean over valid frames equals the clip logits (tested to
1e-5). A causal model (`keras_gst.GSTResNet18(..., causal=True)`) needs no look-ahead: delay 0.

Every state tensor has rank <= 4 with the batch (one (B, H, W, C) tensor per buffered frame, as the
GPU / NNAPI delegates require): `state_<unit>_h0`, `_h1` (past inputs), `_valid` (B,) (centred units),
`state_<block>_shortcut<i>` (delayed shortcuts) and `clip_sum`, `clip_count` (the running clip mean).

    stream = StreamingGST(model)                  # a GSTVideoClassifier, block "gst" or "c2d", static H, W
    states = stream.init_states(batch_size=1)
    for frame in frames + [zeros] * stream.delay:  # (B, H, W, 3) normalised frames
        out, states = stream.step(frame, valid, states)
        # out["frame_logits"] is frame (step - delay), valid where out["valid"] == 1;
        # out["clip_logits"] is the mean over the valid frames so far.

`export_streaming_savedmodel(model, path)` writes a SavedModel with `init_states` (batch_size) and
`call` (frame, valid, state_*) signatures, MoViNet-style. `keras_gst.export.streaming_tflite`
writes the `call` step as a .tflite file (float32, fp16, dynamic or calibrated all-int8).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from keras_gst.models import GSTVideoClassifier


class StreamingGST:
    """Frame-by-frame inference of a `GSTVideoClassifier` (block "gst" or "c2d", static frame size),
    exactly equal to the offline model: `GSTVideoClassifier.stream_step` plus the running clip mean.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import StreamingGST

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    stream = StreamingGST(model)
    clips = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3)).astype("float32")  # normalised frames
    frame_logits, clip_logits = stream.run(clips)  # frame by frame, then `stream.delay` flush steps
    print(frame_logits.shape, np.allclose(clip_logits, model(clips), atol=1e-4))  # (1, 4, 2) True
    ```
    """

    def __init__(self, model: GSTVideoClassifier):
        if not isinstance(model, GSTVideoClassifier):
            raise ValueError(f"StreamingGST needs a keras_gst GSTVideoClassifier. Received: {type(model).__name__}")
        self.model = model
        self.frame_shape = tuple(model.frame_shape)
        self.num_classes = model.num_classes
        self.state_shapes = model.stream_state_shapes()  # a ValueError for a unit that cannot stream
        self.delay = model.stream_delay

    def init_states(self, batch_size=1, clip_state=True):
        """Zero states: {name: (batch_size, ...)}. `clip_state=False` leaves out the running clip mean
        ("clip_sum", "clip_count"; the int8 stream, whose unbounded sum would saturate)."""
        states = {k: tf.zeros((batch_size,) + s) for k, s in self.state_shapes.items()}
        if clip_state:
            states["clip_sum"] = tf.zeros((batch_size, self.num_classes))
            states["clip_count"] = tf.zeros((batch_size,))
        return states

    def step(self, frame, valid, states):
        """One frame (B, H, W, 3) normalised, `valid` (B,) 1.0 for a real frame and 0.0 for a flush step.

        Returns ({"frame_logits", "valid"[, "clip_logits"]}, new_states); frame_logits belong to the
        frame `delay` steps earlier, valid when "valid" is 1; "clip_logits" (the mean over the valid
        frames so far) when `states` holds the clip state.
        """
        logits, valid_out, new = self.model.stream_step(frame, tf.cast(valid, tf.float32), states)
        out = {"frame_logits": logits, "valid": valid_out}
        if "clip_sum" in states:
            new["clip_sum"] = states["clip_sum"] + logits * valid_out[:, None]
            new["clip_count"] = states["clip_count"] + valid_out
            out["clip_logits"] = new["clip_sum"] / tf.maximum(new["clip_count"], 1.0)[:, None]
        return out, new

    def run(self, clips):
        """Stream whole clips (B, T, H, W, 3): per-frame logits (B, T, classes) and clip logits (B, classes)."""
        clips = tf.convert_to_tensor(clips, tf.float32)
        batch, num_frames = clips.shape[0], clips.shape[1]
        states = self.init_states(batch)
        frames = []
        for s in range(num_frames + self.delay):
            real = s < num_frames
            frame = clips[:, s] if real else tf.zeros_like(clips[:, 0])
            out, states = self.step(frame, tf.fill((batch,), 1.0 if real else 0.0), states)
            if s >= self.delay:
                frames.append(out["frame_logits"])
        return np.stack([np.asarray(f) for f in frames], axis=1), np.asarray(out["clip_logits"])


def export_streaming_savedmodel(model: GSTVideoClassifier, path: str | os.PathLike) -> StreamingGST:
    """SavedModel with signatures `init_states(batch_size)` -> state_* tensors and
    `call(frame, valid, state_*)` -> frame_logits, valid, clip_logits and the new state_* tensors.
    Returns the `StreamingGST` it exported.

    Example:

    ```python
    import numpy as np
    import keras_gst
    from keras_gst.export import export_streaming_savedmodel, load_stream

    model = keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    export_streaming_savedmodel(model, "gst_stream")
    stream = load_stream("gst_stream")  # runs its `init_states` and `call` signatures
    frame_logits, clip_logits = stream.run(np.zeros((4, 32, 32, 3), "float32"))
    print(stream.kind, frame_logits.shape)  # savedmodel (4, 2)
    ```
    """
    stream = StreamingGST(model)
    names = sorted(stream.init_states(1))
    h, w, _ = stream.frame_shape

    def init_states(batch_size):
        states = stream.init_states(1)
        return {f"state_{k}": tf.repeat(states[k], batch_size, axis=0) for k in names}

    def call(frame, valid, **state):
        out, new = stream.step(frame, valid, {k: state[f"state_{k}"] for k in names})
        out.update({f"state_{k}": new[k] for k in names})
        return out

    state_specs = {f"state_{k}": tf.TensorSpec((None,) + tuple(v.shape[1:]), tf.float32, name=f"state_{k}")
                   for k, v in stream.init_states(1).items()}
    module = tf.Module()
    module.model = model
    module.init_states = tf.function(init_states, input_signature=[tf.TensorSpec((), tf.int32, name="batch_size")])
    frame_spec = tf.TensorSpec((None, h, w, 3), tf.float32, name="frame")
    valid_spec = tf.TensorSpec((None,), tf.float32, name="valid")
    call_fn = tf.function(lambda frame, valid, **state: call(frame, valid, **state))
    concrete = call_fn.get_concrete_function(frame_spec, valid_spec, **state_specs)
    tf.saved_model.save(module, str(path), signatures={
        "init_states": module.init_states.get_concrete_function(),
        "call": concrete,
    })
    return stream


def initial_states_numpy(stream, batch_size=1):
    """`init_states` as {"state_<name>": zeros} NumPy arrays, the names the exported signatures use."""
    return {f"state_{k}": np.asarray(v) for k, v in stream.init_states(batch_size).items()}
