"""zentf (AMD's ZenDNN plugin for TensorFlow 2.21) vs stock TensorFlow + oneDNN on the frozen GST-R50 graph.

    pip install --no-deps --target /tmp/zentf/site-packages "zentf==2.21.*"   # needs the network (PyPI)
    python benchmarks/bench_zentf.py --zentf /tmp/zentf/site-packages --rounds 2

zentf is a TensorFlow pluggable library: TensorFlow loads `tensorflow-plugins/*.so` from every folder on
sys.path whose name holds "site-packages" when it is imported. Installed into its own folder (zentf pins
numpy==1.26.4, which this project's environment does not use; the plugin itself does not need it), it is
on only in the processes that get that folder on PYTHONPATH. Each round runs one process per variant,
alternating (stock, zentf, then zentf, stock): stock = TensorFlow's oneDNN kernels (what keras_gst turns on);
zentf = the plugin with TF_ENABLE_ZENDNN_OPTS=1 and TF_ENABLE_ONEDNN_OPTS=0 (as AMD documents). Each process
builds the bench's GST-R50 (same seeded weights), freezes it (`keras_gst.export.frozen_function`) and prints the
best of 3 calls at batch 1 and one call at batch 8 after warm-up, and its first logits (the variants must agree).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def worker(frames, size):
    import numpy as np
    import tensorflow as tf

    import keras_gst  # noqa: F401 (oneDNN setting, unless the environment sets it)
    from keras_gst.benchmarks.workers import keras_model
    from keras_gst.export import frozen_function

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model, _ = keras_model(dict(frames=frames, size=size, model="gst", threads=2))
    out = {}
    for batch, repeats in ((1, 3), (8, 1)):
        x = tf.constant(np.random.default_rng(0).random((batch, frames, size, size, 3), dtype=np.float32))
        fn = frozen_function(model, x.shape)
        logits = fn(x).numpy()
        fn(x).numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(x).numpy()
            times.append(time.perf_counter() - start)
        out[f"ms_batch{batch}"] = 1000 * min(times)
        out.setdefault("logits", [float(v) for v in logits[0, :4]])
    print("RESULT " + json.dumps(out), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zentf", required=True, help="the folder zentf was installed into (its name holds site-packages)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.frames, args.size)
    if "site-packages" not in os.path.abspath(args.zentf) or not os.path.isdir(os.path.join(args.zentf, "tensorflow-plugins")):
        parser.error(f"--zentf {args.zentf}: not a folder named *site-packages* holding tensorflow-plugins/")
    base = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="2")
    envs = {"stock": base, "zentf": dict(base, TF_ENABLE_ONEDNN_OPTS="0", TF_ENABLE_ZENDNN_OPTS="1",
                                         PYTHONPATH=os.path.abspath(args.zentf))}
    results = {name: [] for name in envs}
    for r in range(args.rounds):
        for name in (("stock", "zentf") if r % 2 == 0 else ("zentf", "stock")):
            cmd = [sys.executable, __file__, "--worker", "--zentf", args.zentf, "--frames", str(args.frames),
                   "--size", str(args.size)]
            proc = subprocess.run(cmd, env=envs[name], capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                sys.exit(f"{name} failed: {proc.stderr.strip().splitlines()[-3:]}")
            results[name].append(json.loads(line[0][7:]))
            print(name, f"round {r + 1}", results[name][-1], flush=True)
    for batch in (1, 8):
        med = {n: statistics.median(r[f"ms_batch{batch}"] for r in rs) for n, rs in results.items()}
        print(f"batch {batch}: stock {med['stock']:.1f} ms, zentf {med['zentf']:.1f} ms "
              f"(zentf / stock {med['zentf'] / med['stock']:.2f})")


if __name__ == "__main__":
    main()
