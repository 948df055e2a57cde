"""Clips/s of the training input pipeline (T x 224 x 224) on real videos and frame folders, against
the GST-ResNet-50 training-step rate. The pipeline should not be the bottleneck: target >= 3x the model.

    keras-gst bench data --data tests/assets/real               # measures both, writes bench_data.json
    keras-gst bench data --data DIR --model-clips-per-s 0.9     # skip the model, use a known rate

--data is a folder laid out like the repository's tests/assets/real (videos/, rawframes/): the benchmark
reads its 5 videos and 7 frame folders by name.

Machines differ from day to day: compare numbers from one run only.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

VIDEOS = ["test.mp4", "test.avi", "demo.mp4", "bottle-detection.mp4", "sthv2/13201.webm"]
FOLDERS = ["gst_style/57082", "ssv2/2", "ssv2/13201", "ssv2/3201", "ssv2/862", "ssv2/151201", "imgs"]


def sources(real):
    return {
        "videos, SSv2-like (webm VP9 320x240, 49 frames)": [real / "videos" / "sthv2" / "13201.webm"],
        "videos, all 5 real files (mp4/avi/webm, 49-1189 frames)": [real / "videos" / v for v in VIDEOS],
        "frame folders, all 7 real (JPEG ~427x240)": [real / "rawframes" / f for f in FOLDERS],
    }


def missing_files(real):
    return sorted({str(p) for paths in sources(real).values() for p in paths if not p.exists()})


def pipeline_rate(paths, frames, size, batch_size, batches, warmup):
    from keras_gst.data import VideoRecord

    records = [VideoRecord(str(p), None, 0) for p in paths] * max(1, (batch_size * (batches + warmup)) // len(paths) + 1)
    return clip_rate(records, frames, size, batch_size, batches, warmup)


def clip_rate(source, frames, size, batch_size, batches, warmup, template="auto", seed=0):
    """Training clips/s of `build_dataset(source)` (augmentation on), after `warmup` batches."""
    from keras_gst.data import DataSpec, build_dataset

    spec = DataSpec(num_frames=frames, crop_size=size, template=template)
    ds = build_dataset(source, spec, training=True, batch_size=batch_size, repeat=True, seed=seed)
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        x, _ = next(it)
    elapsed = time.perf_counter() - start
    assert tuple(x.shape) == (batch_size, frames, size, size, 3)
    return batches * batch_size / elapsed


def model_rate(frames, size, batch_size, steps):
    import keras
    import tensorflow as tf

    from keras_gst.applications import build_classifier

    model = build_classifier(50, 174, num_frames=frames, preprocessor=False)  # the bare network, as in training
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = tf.random.normal((batch_size, frames, size, size, 3))
    y = tf.zeros((batch_size,), tf.int32)
    model.train_on_batch(x, y)  # build + trace
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gst bench data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", "--real-data", dest="real_data", type=Path, required=True, metavar="DIR",
                        help="real sample files laid out as tests/assets/real (videos/, rawframes/)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per source")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--model-clips-per-s", type=float, help="known GST-R50 training rate; skips measuring")
    parser.add_argument("--model-batch-size", type=int, default=2)
    parser.add_argument("--model-steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench_data.json"), help="JSON to write (default bench_data.json)")
    args = parser.parse_args(argv)
    missing = missing_files(args.real_data)
    if missing:
        parser.error(f"--data {args.real_data}: {len(missing)} of the benchmark's files are missing, e.g. {missing[0]} "
                     "(pass a folder laid out as tests/assets/real)")
    import tensorflow as tf

    rows = []
    for name, paths in sources(args.real_data).items():
        rate = pipeline_rate(paths, args.frames, args.size, args.batch_size, args.batches, args.warmup)
        rows.append({"source": name, "clips_per_s": rate})
        print(f"{name}: {rate:.1f} clips/s", flush=True)
    model = args.model_clips_per_s
    measured = model is None
    if measured:
        model = model_rate(args.frames, args.size, args.model_batch_size, args.model_steps)
    print()
    print(f"| input ({args.frames}x{args.size}x{args.size}, training augmentation, batch {args.batch_size}) "
          "| clips/s | x GST-R50 train step |")
    print("|---|---|---|")
    for row in rows:
        row["ratio_to_model"] = row["clips_per_s"] / model
        print(f"| {row['source']} | {row['clips_per_s']:.1f} | {row['ratio_to_model']:.1f}x |")
    print(f"| GST-R50 alpha=1/4 training step ({'measured' if measured else 'given'}, batch "
          f"{args.model_batch_size}) | {model:.2f} | 1x |")
    result = {
        "frames": args.frames, "size": args.size, "batch_size": args.batch_size, "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "tensorflow": tf.__version__,
        "pipeline": rows, "model_clips_per_s": model, "model_measured": measured,
        "target_met": all(r["ratio_to_model"] >= 3 for r in rows),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
