"""Streaming GST: frames in one at a time, with the temporal context as explicit state.

GST's temporal convolution is centred ("same" in time): output frame t needs input frame t+1. A stream
that reproduces the offline model exactly therefore delays each GST unit by one frame. Each unit keeps
the last two inputs (h[s-2], h[s-1]) as state and, given h[s], emits frame s-1:
``temporal[s-1] = sum_dt conv2d(h[s-2+dt], k[dt])``, ``spatial[s-1] = conv2d(h[s-1])``; residual
shortcuts are delayed to match. Frames carry a `valid` flag (delayed with them): an invalid frame enters
the temporal convolutions as zeros, which is exactly the offline zero padding at the clip end, so after
the last real frame, `delay` flush steps with ``valid=0`` return the remaining frames. Per-frame logits of
the stream equal `per_frame_model(model)`'s, and the running mean over valid frames equals the clip
logits (tested to 1e-5). A causal model (`keras_gst.GSTResNet18(..., causal=True)`) needs no look-ahead: the same state
gives ``temporal[s] = sum_dt conv2d(h[s-2+dt], k[dt])``, ``spatial[s] = conv2d(h[s])``, delay 0.

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

import numpy as np
import tensorflow as tf
from keras import ops

from keras_gst.layers.frames import frame_conv2d
from keras_gst.layers.gst_block import C2DBlock, GSTBlock
from keras_gst.models import GSTVideoClassifier
from keras_gst.models.specs import block_specs


class StreamingGST:
    """Frame-by-frame inference of a `GSTVideoClassifier` (block "gst" or "c2d"), exactly equal to the
    offline model. The blocks are walked with the topology of `keras_gst.models.specs`."""

    def __init__(self, model):
        if not isinstance(model, GSTVideoClassifier) or model.block not in ("gst", "c2d"):
            raise ValueError("StreamingGST needs a GSTVideoClassifier with block='gst' or 'c2d'")
        h, w, _ = model.frame_shape
        if h is None or w is None:
            raise ValueError("StreamingGST needs a static frame size: rebuild the model with input_shape=(H, W, 3)")
        self.model = model
        self.frame_shape = (h, w, 3)
        self.blocks = block_specs(model.depth)
        self.num_classes = model.num_classes
        self.state_shapes = {}
        self._probe()
        self.delay = sum(1 for k in self.state_shapes if k.endswith("_valid"))

    # -- graph walk shared by the shape probe and the stream step

    def _walk(self, x, valid, unit, delay_shortcut):
        b = self.model.backbone
        x = b.get_layer("stem")(x, training=False)
        x = b.get_layer("stem_pool")(x)
        for spec in self.blocks:
            shortcut = x
            if spec.shortcut:
                shortcut = b.get_layer(spec.shortcut.name)(x, training=False)
            y, valid_out = x, valid
            for conv in spec.body:
                if conv.kind == "unit":
                    y, valid_out = unit(conv.name, y, valid_out)
                else:
                    y = b.get_layer(conv.name)(y, training=False)
            shortcut = delay_shortcut(spec.name, shortcut, valid, valid_out)
            x = b.get_layer(f"{spec.name}_out")(b.get_layer(f"{spec.name}_add")([shortcut, y]))
            valid = valid_out
        feats = self.model.get_layer("avg_pool")(x)
        return self.model.get_layer("frame_logits")(feats)[:, 0], valid

    def _probe(self):
        """Record the state shapes (per sample, each of rank <= 3, so rank <= 4 with the batch) with one
        offline frame."""
        delays = {}
        self.shortcut_delays = {}

        def unit(name, h, valid):
            layer = self.model.backbone.get_layer(name)
            if isinstance(layer, GSTBlock):
                for i in range(layer.temporal_kernel.shape[0] - 1):  # the past input frames, one tensor each
                    self.state_shapes[f"{name}_h{i}"] = tuple(h.shape[2:])
                if not layer.causal:  # a centred unit emits the previous frame: one frame of delay
                    self.state_shapes[f"{name}_valid"] = ()
                    delays[name] = 1
            elif not isinstance(layer, C2DBlock):
                raise ValueError(f"{name}: {type(layer).__name__} cannot stream")
            return layer(h, training=False), valid

        def delay_shortcut(name, shortcut, valid, valid_out):
            d = sum(v for k, v in delays.items() if k.startswith(name + "_"))
            for i in range(d):
                self.state_shapes[f"{name}_shortcut{i}"] = tuple(shortcut.shape[2:])
            if d:
                self.shortcut_delays[name] = d
            return shortcut

        self._walk(ops.zeros((1, 1) + self.frame_shape), ops.ones((1,)), unit, delay_shortcut)

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
        new = {}
        valid = tf.cast(valid, tf.float32)

        def unit(name, h, valid_in):
            layer = self.model.backbone.get_layer(name)
            if isinstance(layer, C2DBlock):
                return layer(h, training=False), valid_in
            past = layer.temporal_kernel.shape[0] - 1
            window = [states[f"{name}_h{i}"][:, None] for i in range(past)]
            window.append(h * valid_in[:, None, None, None, None])  # h[s-2], h[s-1], h[s]
            for i in range(past):
                new[f"{name}_h{i}"] = window[i + 1][:, 0]
            # causal: output frame s (current input); centred: frame s-1 (the middle of the window)
            xs = layer.split_inputs(window[-1] if layer.causal else window[past // 2])[0]
            xts = [layer.split_inputs(f)[1] for f in window]

            def spatial(kernel, bias, relu):
                return frame_conv2d(xs, kernel, layer.strides, bias, relu)

            def temporal(kernel, bias, relu):
                y = sum(frame_conv2d(xts[dt], kernel[dt], layer.strides) for dt in range(kernel.shape[0]))
                y = y + bias
                return ops.relu(y) if relu else y

            convs = [(spatial, layer.spatial_kernel), (temporal, layer.temporal_kernel)]
            y = layer.conv_bn(convs, layer.bn, False, layer.activation)
            if layer.causal:
                return y, valid_in
            new[f"{name}_valid"] = valid_in
            return y, states[f"{name}_valid"]

        def delay_shortcut(name, shortcut, valid_in, valid_out):
            d = self.shortcut_delays.get(name, 0)
            if not d:
                return shortcut
            buffer = [states[f"{name}_shortcut{i}"] for i in range(d)] + [shortcut[:, 0]]
            for i in range(d):
                new[f"{name}_shortcut{i}"] = buffer[i + 1]
            return buffer[0][:, None]

        logits, valid_out = self._walk(frame[:, None], valid, unit, delay_shortcut)
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


def export_streaming_savedmodel(model, path):
    """SavedModel with signatures `init_states(batch_size)` -> state_* tensors and
    `call(frame, valid, state_*)` -> frame_logits, valid, clip_logits and the new state_* tensors."""
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
