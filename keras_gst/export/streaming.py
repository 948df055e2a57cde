"""Streaming GST: frames in one at a time, with the temporal context as explicit state.

GST's temporal convolution is centred ("same" in time): output frame t needs input frame t+1. A stream
that reproduces the offline model exactly therefore delays each GST unit by one frame. Each unit keeps
the last two inputs (h[s-2], h[s-1]) as state and, given h[s], emits frame s-1:
``temporal[s-1] = sum_dt conv2d(h[s-2+dt], k[dt])``, ``spatial[s-1] = conv2d(h[s-1])``; residual
shortcuts are delayed to match. Frames carry a `valid` flag (delayed with them): an invalid frame enters
the temporal convolutions as zeros, which is exactly the offline zero padding at the clip end, so after
the last real frame, `delay` flush steps with ``valid=0`` return the remaining frames. Per-frame logits of
the stream equal `per_frame_model(model)`'s, and the running mean over valid frames equals the clip
logits (tested to 1e-5).

    stream = StreamingGST(model)                  # a GSTVideoClassifier, block "gst" or "c2d", static H, W
    states = stream.init_states(batch_size=1)
    for frame in frames + [zeros] * stream.delay:  # (B, H, W, 3) normalised frames
        out, states = stream.step(frame, valid, states)
        # out["frame_logits"] is frame (step - delay), valid where out["valid"] == 1;
        # out["clip_logits"] is the mean over the valid frames so far.

`export_streaming_savedmodel(model, path)` writes a SavedModel with `init_states` (batch_size) and
`call` (frame, valid, state_*) signatures, MoViNet-style. `export_streaming_tflite(model, path)` writes
the `call` step as a .tflite file (batch 1; inputs frame, valid and the state_* tensors, zeros to
start; outputs frame_logits, valid, clip_logits and the next state_* tensors), float32, fp16 or
dynamic-range (full int8 would need calibrated state ranges: not offered).
"""

import keras
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
        """Record the state shapes (per sample) with one offline frame."""
        delays = {}

        def unit(name, h, valid):
            layer = self.model.backbone.get_layer(name)
            if isinstance(layer, GSTBlock):
                self.state_shapes[f"{name}_h"] = (2,) + tuple(h.shape[2:])
                self.state_shapes[f"{name}_valid"] = ()
                delays[name] = 1
            elif not isinstance(layer, C2DBlock):
                raise ValueError(f"{name}: {type(layer).__name__} cannot stream")
            return layer(h, training=False), valid

        def delay_shortcut(name, shortcut, valid, valid_out):
            d = sum(v for k, v in delays.items() if k.startswith(name + "_"))
            if d:
                self.state_shapes[f"{name}_shortcut"] = (d,) + tuple(shortcut.shape[2:])
            return shortcut

        self._walk(ops.zeros((1, 1) + self.frame_shape), ops.ones((1,)), unit, delay_shortcut)

    def init_states(self, batch_size=1):
        states = {k: tf.zeros((batch_size,) + s) for k, s in self.state_shapes.items()}
        states["clip_sum"] = tf.zeros((batch_size, self.num_classes))
        states["clip_count"] = tf.zeros((batch_size,))
        return states

    def step(self, frame, valid, states):
        """One frame (B, H, W, 3) normalised, `valid` (B,) 1.0 for a real frame and 0.0 for a flush step.

        Returns ({"frame_logits", "valid", "clip_logits"}, new_states); frame_logits belong to the frame
        `delay` steps earlier, valid when "valid" is 1.
        """
        new = {}
        valid = tf.cast(valid, tf.float32)

        def unit(name, h, valid_in):
            layer = self.model.backbone.get_layer(name)
            if isinstance(layer, C2DBlock):
                return layer(h, training=False), valid_in
            masked = h * valid_in[:, None, None, None, None]
            window = tf.concat([states[f"{name}_h"], masked], axis=1)  # h[s-2], h[s-1], h[s]
            new[f"{name}_h"] = window[:, 1:]
            new[f"{name}_valid"] = valid_in
            xs, xt = layer.split_inputs(window)

            def spatial(kernel, bias, relu):
                return frame_conv2d(xs[:, 1:2], kernel, layer.strides, bias, relu)

            def temporal(kernel, bias, relu):
                y = sum(frame_conv2d(xt[:, dt : dt + 1], kernel[dt], layer.strides) for dt in range(kernel.shape[0]))
                y = y + bias
                return ops.relu(y) if relu else y

            convs = [(spatial, layer.spatial_kernel), (temporal, layer.temporal_kernel)]
            return layer.conv_bn(convs, layer.bn, False, layer.activation), states[f"{name}_valid"]

        def delay_shortcut(name, shortcut, valid_in, valid_out):
            key = f"{name}_shortcut"
            if key not in states:
                return shortcut
            buffer = tf.concat([states[key], shortcut], axis=1)
            new[key] = buffer[:, 1:]
            return buffer[:, :1]

        logits, valid_out = self._walk(frame[:, None], valid, unit, delay_shortcut)
        new["clip_sum"] = states["clip_sum"] + logits * valid_out[:, None]
        new["clip_count"] = states["clip_count"] + valid_out
        clip = new["clip_sum"] / tf.maximum(new["clip_count"], 1.0)[:, None]
        return {"frame_logits": logits, "valid": valid_out, "clip_logits": clip}, new

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


STREAMING_TFLITE_MODES = ("none", "fp16", "dynamic")


def export_streaming_tflite(model, path, quantize="none"):
    """The stream step as a .tflite file (batch 1, see the module docstring); returns the `StreamingGST`.

    Goes through `keras.export.ExportArchive` -> SavedModel -> `TFLiteConverter.from_saved_model`
    (a plain tf.Module keeps the Keras variables as READ_VARIABLE ops in TFLite and gives NaN).
    """
    import os
    import tempfile

    if quantize not in STREAMING_TFLITE_MODES:
        raise ValueError(f"`quantize` must be one of {STREAMING_TFLITE_MODES} for streaming. Received: {quantize!r}")
    stream = StreamingGST(model)
    h, w, _ = stream.frame_shape
    names = sorted(stream.init_states(1))
    specs = {f"state_{k}": tf.TensorSpec((1,) + tuple(v.shape[1:]), tf.float32, name=f"state_{k}")
             for k, v in stream.init_states(1).items()}

    def call(frame, valid, states):
        out, new = stream.step(frame, valid, {k: states[f"state_{k}"] for k in names})
        out.update({f"state_{k}": new[k] for k in names})
        return out

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", call, input_signature=[
        tf.TensorSpec((1, h, w, 3), tf.float32, name="frame"), tf.TensorSpec((1,), tf.float32, name="valid"), specs])
    with tempfile.TemporaryDirectory(prefix="keras_gst_stream_") as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return stream


def initial_states_numpy(stream, batch_size=1):
    """`init_states` as {"state_<name>": zeros} NumPy arrays, the names the exported signatures use."""
    return {f"state_{k}": np.asarray(v) for k, v in stream.init_states(batch_size).items()}
