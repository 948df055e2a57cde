"""Size and latency of exported GST models: Keras/TF fp32 vs TFLite fp32/fp16/dynamic/int8.

    keras-gst bench export --data VIDEOS_OR_FRAME_FOLDERS... [--depth 50 --frames 8 --size 224 --threads 2]

    e.g. in a source checkout: --data tests/assets/real/videos tests/assets/real/rawframes/ssv2

GST-ResNet (random weights, seeded; no network), int8 calibrated on the real clips of --data (videos, frame
folders, directories or list files; 2 TSN test phases each), top-1 agreement and logit differences vs Keras on
the evaluation view of each real clip. Latency: batch 1, median of `--runs` timed calls after
`--warmup`, TF with intra-op threads = `--threads`, TFLite with `ai_edge_litert` Interpreter
(`num_threads=--threads`, XNNPACK delegate by default). `--with-conv3d` adds TFLite files converted
without the Conv3D rewrite (CONV_3D kept; float inside the int8 model). Prints a table, writes JSON.
Random weights make top-1 agreement a weak signal (logits are close together); see docs/export.md.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from keras_gst.benchmarks.peak import cpu_name
from keras_gst.benchmarks.workers import call_seconds


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="keras-gst bench export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depth", type=int, default=50, choices=[18, 34, 50, 101])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=174)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--calibration-clips", type=int, default=20)
    p.add_argument("--modes", nargs="+", default=["none", "fp16", "dynamic", "int8"])
    p.add_argument("--with-conv3d", action="store_true", help="also TFLite fp32/int8 without the Conv3D rewrite")
    p.add_argument("--data", nargs="+", required=True, metavar="DATA",
                   help="real clips for calibration and agreement: videos, frame folders, directories or list files")
    p.add_argument("--workdir", default=None, help="where to keep the exported files (default: a temp dir)")
    p.add_argument("--reuse", action="store_true",
                   help="reuse model.keras and .tflite files already in --workdir (re-time without converting)")
    p.add_argument("--out", default="bench_export.json", help="JSON to write (default bench_export.json)")
    return p.parse_args(argv)


def _median_ms(fn, runs, warmup):
    """(median, min) ms per call of `fn`."""
    times = [1e3 * t for t in call_seconds(fn, runs, warmup)]
    return statistics.median(times), min(times)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import numpy as np

    from keras_gst.export import TFLiteModel, audit_tflite, convert_tflite_modes, float_compute_ops, load_clips
    from keras_gst.export.clips import normalize_clip
    from keras_gst.export.savedmodel import compare_logits
    from keras_gst.applications import build_classifier

    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_export_")
    os.makedirs(workdir, exist_ok=True)
    t, s = args.frames, args.size
    sources = args.data
    load_start = time.perf_counter()
    calibration, _ = load_clips(sources, t, s, clips_per_video=2, max_clips=args.calibration_clips)
    clips, clip_names = load_clips(sources, t, s, clips_per_video=1)
    print(f"{len(calibration)} calibration clips, {len(clips)} parity clips ({time.perf_counter() - load_start:.1f} s)")

    keras_path = os.path.join(workdir, "model.keras")
    if args.reuse and os.path.exists(keras_path):
        from keras_gst.export import load_keras_model

        model = load_keras_model(keras_path)
    else:
        keras.utils.set_random_seed(0)
        model = build_classifier(args.depth, args.num_classes, num_frames=t, input_shape=(s, s, 3),
                                 name=f"gst_resnet{args.depth}")
        model.save(keras_path)
    infer = tf.function(lambda x: model(x, training=False), jit_compile=False)
    reference = np.concatenate([infer(tf.constant(normalize_clip(c[None]))).numpy() for c in clips])
    one = tf.constant(normalize_clip(clips[:1]))
    median, best = _median_ms(lambda: infer(one).numpy(), args.runs, args.warmup)
    rows = [{
        "format": "Keras/TF fp32", "size_mb": os.path.getsize(keras_path) / 1e6, "latency_ms": median,
        "latency_min_ms": best, "top1_agreement": 1.0, "max_abs_diff": 0.0, "rel_diff": 0.0,
    }]
    print(f"Keras/TF: {median:.1f} ms/clip")

    variants = [("conv2d", m) for m in args.modes]
    if args.with_conv3d:
        variants += [("conv3d", "none"), ("conv3d", "int8")]
    for impl in ("conv2d", "conv3d"):
        modes = [m for i, m in variants if i == impl]
        if not modes:
            continue
        paths = {m: os.path.join(workdir, f"model_{impl}_{m}.tflite") for m in modes}
        todo = {m: p for m, p in paths.items() if not (args.reuse and os.path.exists(p))}
        if todo:
            start = time.perf_counter()
            convert_tflite_modes(model, todo, calibration, temporal_impl=impl, audit=impl == "conv2d")
            print(f"converted {impl} {list(todo)} in {time.perf_counter() - start:.0f} s")
        for mode, path in paths.items():
            tfl = TFLiteModel(path, num_threads=args.threads)
            logits = tfl.logits_for_clips(clips)
            x = normalize_clip(clips[:1])
            median, best = _median_ms(lambda: tfl(x), args.runs, args.warmup)
            ops = audit_tflite(path)
            report = compare_logits(reference, logits)
            label = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic-range int8", "int8": "int8"}[mode]
            rows.append({
                "format": f"TFLite {label}" + (" (CONV_3D kept)" if impl == "conv3d" else ""),
                "temporal_impl": impl, "quantize": mode, "size_mb": os.path.getsize(path) / 1e6,
                "latency_ms": median, "latency_min_ms": best,
                "top1_agreement": report["top1_agreement"], "max_abs_diff": report["max_abs_diff"],
                "rel_diff": report["rel_diff"], "float_compute_ops": len(float_compute_ops(ops)) if mode == "int8" else None,
            })
            print(f"{rows[-1]['format']}: {median:.1f} ms/clip, {rows[-1]['size_mb']:.1f} MB")

    header = ("| model | size (MB) | latency (ms/clip, median / min) | top-1 agreement vs Keras | "
              "max abs logit diff (rel.) | float conv/FC ops |")
    lines = [header, "|---|---|---|---|---|---|"]
    for r in rows:
        float_ops = "-" if r.get("float_compute_ops") is None else str(r["float_compute_ops"])
        lines.append(f"| {r['format']} | {r['size_mb']:.1f} | {r['latency_ms']:.0f} / {r['latency_min_ms']:.0f} | "
                     f"{r['top1_agreement']:.2f} ({len(clips)} clips) | {r['max_abs_diff']:.2g} ({r['rel_diff']:.2g}) | "
                     f"{float_ops} |")
    table = "\n".join(lines)
    info = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpu": cpu_name(),
        "load_average": os.getloadavg(),
        "threads": args.threads,
        "model": f"GST-ResNet{args.depth} alpha=1/4, {args.num_classes} classes, random weights (seed 0)",
        "input": f"1x{t}x{s}x{s}x3",
        "calibration_clips": len(calibration),
        "parity_clips": clip_names,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "rows": rows,
        "table": table,
    }
    print()
    print(f"{info['model']}, input {info['input']}, {args.threads} threads, {info['cpu']}, {info['date_utc']} UTC, "
          f"load average {', '.join(f'{x:.1f}' for x in info['load_average'])}")
    print(table)
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
