"""Which inference path is the fast one: frozen graph vs the library's predict vs Keras' model.predict vs the
SavedModel, interleaved in one process (each round times every path once, so machine load hits all alike).

    python benchmarks/bench_predict_path.py                 # GST-R50, 8x224, batch 1 and 8, 2 threads
    python benchmarks/bench_predict_path.py --tiny --rounds 3   # GST-R18 4x64: a smoke run

Paths (median ms per call over the rounds, and the ratio to `frozen`):
  frozen              keras_gst.export.frozen_function(model) on normalised frames
  library             keras_gst.export.load_predictor("m.keras").logits(pixels): what `predict` / `eval` run
  model.predict       Keras' general path (variables read and BatchNorm folded on every call)
  savedmodel          the serving signature as tf.saved_model.load returns it
  savedmodel library  load_predictor("saved_model_dir").logits(pixels): the signature frozen after the op check
"""

import argparse
import os
import statistics
import sys
import tempfile
import time


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="GST-R18, 4 frames, 64 px, 5 classes (smoke run)")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds per path and batch (default 10)")
    p.add_argument("--threads", type=int, default=2, help="TF intra-op threads (default 2)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_gst.applications import build_classifier
    from keras_gst.benchmarks.workers import trained_batchnorm
    from keras_gst.export import export_savedmodel, frozen_function, load_predictor, normalize_clip

    depth, t, s, classes = (18, 4, 64, 5) if args.tiny else (50, 8, 224, 174)
    model = build_classifier(depth, classes, num_frames=t, input_shape=(s, s, 3), preprocessor=False)  # x is normalised
    rng = np.random.default_rng(1)
    for layer in model._flatten_layers():  # trained-like BatchNorm statistics, so folding has work to do
        if isinstance(layer, keras.layers.BatchNormalization):
            for v, value in zip((layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance),
                                trained_batchnorm(layer.gamma.shape[0], rng)):
                v.assign(value.astype("float32"))
    folder = tempfile.mkdtemp(prefix="bench_predict_path_")
    keras_path, sm_path = os.path.join(folder, "m.keras"), os.path.join(folder, "sm")
    model.save(keras_path)
    export_savedmodel(model, sm_path)
    frozen = frozen_function(model, (None, t, s, s, 3))
    library = load_predictor(keras_path)
    signature = tf.saved_model.load(sm_path).signatures["serving_default"]
    sm_library = load_predictor(sm_path)
    print(f"GST-R{depth} {t}x{s}x{s}, {classes} classes, {args.threads} threads, {args.rounds} rounds, "
          f"TF {tf.__version__}, Keras {keras.__version__}")
    for batch in [int(b) for b in args.batches.split(",")]:
        pixels = np.random.default_rng(0).uniform(0, 255, (batch, t, s, s, 3)).astype(np.float32)
        x = normalize_clip(pixels)
        paths = {
            "frozen": lambda: frozen(x).numpy(),
            "library": lambda: library.logits(pixels),
            "model.predict": lambda: model.predict(x, batch_size=batch, verbose=0),
            "savedmodel": lambda: signature(frames=tf.constant(x))["logits"].numpy(),
            "savedmodel library": lambda: sm_library.logits(pixels),
        }
        reference = paths["frozen"]()
        for name, call in paths.items():  # warm-up, and every path computes the same logits
            out = call()
            err = float(np.max(np.abs(out - reference)))
            if err > 1e-3 * max(1.0, float(np.max(np.abs(reference)))):
                raise SystemExit(f"{name} disagrees with frozen by {err:g}")
        times = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, call in paths.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["frozen"])
        print(f"batch {batch}:")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:<19} {1e3 * median:9.1f} ms  x{median / base:5.2f} of frozen")
    return 0


if __name__ == "__main__":
    sys.exit(main())
