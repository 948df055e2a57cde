"""Per-frame latency of streaming GST TFLite files (fp32 and int8), 1 and 2 threads, with MACs per frame.

    python benchmarks/bench_stream.py [--configs 50:224 18:224 18:160] [--modes none int8] [--threads 1 2]
        [--runs 30] [--out benchmarks/results/stream.json]

For each GST-ResNet (random weights, seed 0, 174 classes, centred unless `--causal`) at each frame size:
the stream step is exported with `convert_streaming_tflite` (int8: calibrated on `--calibration-clips`
real clips of `--frames` frames run frame by frame, from tests/assets/real unless `--data`), then run
with the `ai_edge_litert` Interpreter (XNNPACK, `num_threads`) on real frames, the states fed back at
every step: median (and min) ms per frame over `--runs` steps after `--warmup`. MACs per frame are
`count_macs` of a one-frame clip (every temporal 3x3x3 conv counted in full: its three taps run per
frame). Compare with MoViNet's stream models (fp32 TFLite, 1 thread): docs/export.md.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

from keras_gst.benchmarks.export import _median_ms
from keras_gst.benchmarks.peak import cpu_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["50:224", "18:224", "18:160"], help="DEPTH:SIZE")
    p.add_argument("--modes", nargs="+", default=["none", "int8"], choices=["none", "fp16", "dynamic", "int8"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=30, help="timed steps per (model, threads)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--frames", type=int, default=8, help="frames per calibration clip")
    p.add_argument("--calibration-clips", type=int, default=4)
    p.add_argument("--num-classes", type=int, default=174)
    p.add_argument("--causal", action="store_true", help="causal models (zero delay) instead of centred ones")
    p.add_argument("--data", nargs="+", default=None, help="real clips (default: tests/assets/real)")
    p.add_argument("--workdir", default=None, help="keep the .tflite files here (default: a temp dir)")
    p.add_argument("--reuse", action="store_true", help="re-time the .tflite files already in --workdir")
    p.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "stream.json"))
    return p.parse_args(argv)


def time_stream(path, frames, threads, runs, warmup):
    """(median ms, min ms) of one stream step, real frames in turn, states fed back."""
    import numpy as np

    from keras_gst.export.stream_runner import TFLiteStream

    stream = TFLiteStream(path, num_threads=threads)
    state = {"states": stream.init_states(), "i": 0}

    def step():
        frame = frames[state["i"] % len(frames)][None]
        out = stream.runner(frame=frame, valid=np.ones((1,), np.float32), **state["states"])
        state["states"] = {n: out[n] for n in stream.state_names}
        state["i"] += 1

    return _median_ms(step, runs, warmup)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from keras_gst import GSTResNet
    from keras_gst.analysis.complexity import count_macs
    from keras_gst.export.clips import load_clips, normalize_clip
    from keras_gst.export.streaming import StreamingGST
    from keras_gst.export.streaming_tflite import convert_streaming_tflite

    sources = args.data or [os.path.join(REPO, "tests", "assets", "real", "videos"),
                            os.path.join(REPO, "tests", "assets", "real", "rawframes", "ssv2")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_stream_")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    for config in args.configs:
        depth, size = (int(v) for v in config.split(":"))
        keras.utils.set_random_seed(0)
        model = GSTResNet(depth, args.num_classes, input_shape=(size, size, 3), causal=args.causal)
        macs = count_macs(model, (1, size, size, 3))
        clips, _ = load_clips(sources, args.frames, size, max_clips=args.calibration_clips)
        frames = normalize_clip(clips).reshape((-1, size, size, 3))
        for mode in args.modes:
            path = os.path.join(workdir, f"gst_r{depth}_{size}_{'causal' if args.causal else 'centred'}_{mode}.tflite")
            start = time.perf_counter()
            if args.reuse and os.path.exists(path):
                stream = StreamingGST(model)
            else:
                stream = convert_streaming_tflite(model, path, mode, clips if mode == "int8" else None)
            convert_s = time.perf_counter() - start
            for threads in args.threads:
                median, best = time_stream(path, frames, threads, args.runs, args.warmup)
                row = {"model": f"GST-R{depth}", "size": size, "mode": mode, "threads": threads,
                       "ms_per_frame": median, "min_ms": best, "gmacs_per_frame": macs / 1e9,
                       "size_mb": os.path.getsize(path) / 1e6, "delay": stream.delay, "convert_s": convert_s}
                rows.append(row)
                print(f"GST-R{depth} {size}x{size} {mode:5s} {threads} thread(s): {median:7.1f} ms/frame (min {best:.1f}), "
                      f"{macs / 1e9:.2f} GMACs/frame, {row['size_mb']:.1f} MB, delay {stream.delay}", flush=True)
        del model
        keras.backend.clear_session()
    load = os.getloadavg()
    meta = {"cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_end": load, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(), "runs": args.runs,
            "warmup": args.warmup, "reused_files": args.reuse, "causal": args.causal, "calibration_clips": args.calibration_clips,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    print("\n| model | frame | mode | threads | ms/frame (median) | min | GMACs/frame | MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['size']} | {'fp32' if r['mode'] == 'none' else r['mode']} | {r['threads']} | "
              f"{r['ms_per_frame']:.1f} | {r['min_ms']:.1f} | {r['gmacs_per_frame']:.2f} | {r['size_mb']:.1f} |")
    print(f"\n{meta}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
