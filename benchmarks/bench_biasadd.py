"""The BiasAdd route to fusing the residual add + ReLU (issue 25), measured on the frozen GST-R50 graph.

    python benchmarks/bench_biasadd.py --rounds 3            # 8x224, batch 1 and 8, interleaved rounds
    python benchmarks/bench_biasadd.py --frames 2 --size 64 --rounds 1   # smoke run

Three variants of the same weights, built by patching keras_gst's layers in this process only:
  A  the library as it is: conv bias as `y + bias` (AddV2), the residual Add and ReLU layers on (B, T, H, W, C)
  B  the bias through `keras.ops.add`, which Keras >= 3.7 lowers to `tf.nn.bias_add` (a BiasAdd op)
  C  B, and the residual add + ReLU inside the block's last 1x1 unit, on the 4D (B*T, H, W, C) BiasAdd output:
     the pattern of TF's remapper for oneDNN's conv + bias + add + ReLU fusion
Prints each variant's max logit difference to A, the op census of the graph TF runs (after grappler and the
oneDNN rewrite: fused ops with their fused_ops), and the median ms per call of interleaved rounds.
"""
import argparse
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras_gst  # noqa: E402 (first: turns TF's oneDNN kernels on)
import statistics, time, json  # noqa: E402
from collections import Counter  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_gst.benchmarks.workers import keras_model  # noqa: E402
from keras_gst.export import frozen_function  # noqa: E402
from keras_gst.layers import frames, gst_block  # noqa: E402
from keras_gst.models import gst_backbone  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--frames", type=int, default=8)
parser.add_argument("--size", type=int, default=224)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
keras_gst.count_macs = lambda *a, **k: 0  # variant C's last unit takes two inputs; MACs are not needed here
T, S = args.frames, args.size
cfg = dict(frames=T, size=S, model="gst", threads=2)
orig_bias_relu, orig_call, orig_build = frames._bias_relu, gst_block.FrameConvBN.call, gst_backbone.build_resnet

def bias_relu_B(y, bias, relu):
    if bias is not None:
        y = ops.add(y, bias)
    return ops.relu(y) if relu else y

def call_C(self, x, residual=None, training=None):
    if residual is None or (training and self.bn.trainable):
        out = orig_call(self, x, training=training)
        return out if residual is None else ops.relu(out + residual)
    def conv(kernel, bias, relu):
        n = ops.shape(x)[1]
        y = ops.conv(frames.fold_frames(x), kernel, strides=1, padding="same")
        y = ops.add(y, bias) + frames.fold_frames(residual)
        return frames.unfold_frames(ops.relu(y), n)
    assert self.strides == 1 and self.kernel_size == 1
    return self.conv_bn([(conv, self.kernel)], self.bn, training, False)

def build_C(x, depth, block="gst", alpha=0.25, beta=0.5, groups=1, temporal_impl="conv3d", dtype=None, causal=False):
    from keras_gst.layers.frames import FrameMaxPooling2D
    from keras_gst.layers.gst_block import UNITS, FrameConvBN
    from keras_gst.models.specs import STEM_FILTERS, block_specs

    # gst_backbone.build_resnet with the block's last unit taking the shortcut
    options = {"gst": {"alpha": alpha, "beta": beta}, "c3d": {"groups": groups}}.get(block, {})
    x = FrameConvBN(STEM_FILTERS, 7, strides=2, name="stem", dtype=dtype)(x)
    x = FrameMaxPooling2D(3, strides=2, name="stem_pool", dtype=dtype)(x)
    pyramid = {}
    for spec in block_specs(depth):
        outputs = {}
        for conv in spec.convs:
            if conv.kind == "unit":
                layer = UNITS[block](conv.filters, strides=conv.strides, activation=conv.activation,
                                     temporal_impl=temporal_impl, causal=causal, name=conv.name, dtype=dtype, **options)
            else:
                layer = FrameConvBN(conv.filters, 1, strides=conv.strides, activation=conv.activation, name=conv.name, dtype=dtype)
            outputs[conv.name] = layer
        shortcut = outputs[spec.shortcut.name](x) if spec.shortcut else x
        y = x
        for conv in spec.body[:-1]:
            y = outputs[conv.name](y)
        x = outputs[spec.body[-1].name](y, residual=shortcut)
        pyramid[f"P{spec.stage + 2}"] = x
    return x, pyramid

def variant(name):
    frames._bias_relu = orig_bias_relu if name == "A" else bias_relu_B
    gst_block.FrameConvBN.call = call_C if name == "C" else orig_call
    gst_backbone.build_resnet = build_C if name == "C" else orig_build
    model, _ = keras_model(cfg)
    return model

x1 = tf.constant(np.random.default_rng(0).random((1, T, S, S, 3), dtype=np.float32))
x8 = tf.constant(np.random.default_rng(0).random((8, T, S, S, 3), dtype=np.float32))
fns, ref = {}, None
for name in "ABC":
    m = variant(name)
    if ref is None: weights = m.get_weights()
    else: m.set_weights(weights)
    fns[name] = {1: frozen_function(m, (1, T, S, S, 3)), 8: frozen_function(m, (8, T, S, S, 3))}
    y = fns[name][1](x1).numpy()
    if ref is None: ref = y
    print(name, "max diff vs A", float(np.abs(y - ref).max()), "max |logit|", float(np.abs(ref).max()), flush=True)
    # op census of the optimised graph (grappler + oneDNN rewrite): run in a v1 session with partition graphs
    gd = fns[name][1].concrete_function.graph.as_graph_def()
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(gd, name="")
        inp = [op for op in g.get_operations() if op.type == "Placeholder"][0].outputs[0]
        out = g.get_tensor_by_name(fns[name][1].concrete_function.outputs[0].name)
        with tf.compat.v1.Session(graph=g) as sess:
            md = tf.compat.v1.RunMetadata()
            sess.run(out, {inp: x1.numpy()}, options=tf.compat.v1.RunOptions(output_partition_graphs=True), run_metadata=md)
    c = Counter()
    for pg in md.partition_graphs:
        for n in pg.node:
            fused = n.attr["fused_ops"].list.s if "fused_ops" in n.attr else []
            c[n.op + ("[" + ",".join(s.decode() for s in fused) + "]" if fused else "")] += 1
    print(name, {k: v for k, v in c.most_common() if "Conv" in k or k in ("AddV2", "Relu", "BiasAdd", "Add")}, flush=True)
rounds = args.rounds
times = {(n, b): [] for n in "ABC" for b in (1, 8)}
for name in "ABC":
    for b, x in ((1, x1), (8, x8)):
        fns[name][b](x).numpy()
for r in range(rounds):
    for b, x, reps in ((1, x1, 3), (8, x8, 1)):
        for name in ("ABC" if r % 2 == 0 else "CBA"):
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter(); fns[name][b](x).numpy(); ts.append(time.perf_counter() - t0)
            times[(name, b)].append(min(ts))
for b in (1, 8):
    med = {n: statistics.median(times[(n, b)]) * 1000 for n in "ABC"}
    print(f"batch {b}: " + ", ".join(f"{n} {med[n]:.1f} ms ({med[n] / med['A']:.3f})" for n in "ABC"), flush=True)
print(json.dumps({f"{n}{b}": [round(t * 1000, 1) for t in v] for (n, b), v in times.items()}))
