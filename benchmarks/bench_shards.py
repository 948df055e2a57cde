"""Data preparation and training reads: `keras-gst shard` (Beam DirectRunner) vs `extract-frames`, then the
training input pipeline reading the shards vs the frame folders vs the videos (the same videos).

    python benchmarks/bench_shards.py                       # writes benchmarks/results/shards.json
    python benchmarks/bench_shards.py --copies 96 --workers 2 --others --model-clips-per-s 0.21

Videos: the SSv2 sample (tests/assets/real/videos/sthv2/13201.webm, VP9 320x240, 49 frames) copied
`--copies` times (an SSv2-like workload; `--others` adds the other real sample videos, 164 to 1189 frames).
Both preparation paths write JPEGs at `--short-side` 256, quality 95, with `--workers` processes (Beam:
DirectRunner multi-processing, `--direct_num_workers`), and are timed from the call to the finished
output, Beam's worker start-up included. Training reads: T x 224 x 224 clips with the training
augmentation, batch 8, clips/s after warm-up. Machines differ from day to day: compare within one run.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from keras_gst.data import VideoRecord, extract_frames, read_shards  # noqa: E402
from keras_gst.benchmarks.data import clip_rate  # noqa: E402
from keras_gst.data.shards import write_shards  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / "tests" / "assets" / "real" / "videos"
OTHERS = ["test.mp4", "test.avi", "demo.mp4", "bottle-detection.mp4"]


def make_videos(folder, copies, others):
    folder.mkdir(parents=True)
    for i in range(copies):
        shutil.copy(REAL / "sthv2" / "13201.webm", folder / f"ssv2_{i:04d}.webm")
    for name in map(Path, OTHERS if others else []):  # extract-frames names folders by stem: test.mp4 and test.avi need two
        shutil.copy(REAL / name, folder / f"{name.stem}_{name.suffix[1:]}{name.suffix}")
    return sorted(folder.iterdir())


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def read_rate(source, frames, batch_size, batches, warmup, seed=0):
    return clip_rate(source, frames, 224, batch_size, batches, warmup, template="{:05d}.jpg", seed=seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=48, help="copies of the SSv2 sample video")
    parser.add_argument("--others", action="store_true",
                        help="also prepare the other real videos (49 to 1189 frames; training reads use all videos)")
    parser.add_argument("--workers", type=int, default=2, help="processes for both preparation paths")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the training-read measurements")
    parser.add_argument("--model-clips-per-s", type=float, default=None,
                        help="GST-R50 training rate to compare with (benchmarks/bench_data.py measures it)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "shards.json")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_shards_"))
    try:
        videos = make_videos(work / "videos", args.copies, args.others)
        n = len(videos)
        results, frames_dir, shard_dir = {}, work / "frames", work / "shards"
        extracted, seconds = timed(lambda: extract_frames(work / "videos", frames_dir, short_side=args.short_side,
                                                          workers=args.workers, progress=False))
        assert all(not r.error for r in extracted)
        total_frames = sum(r.num_frames for r in extracted)
        results["extract-frames"] = {"seconds": seconds, "videos_per_s": n / seconds,
                                     "frames_per_s": total_frames / seconds}
        manifest, seconds = timed(lambda: write_shards(work / "videos", shard_dir, num_shards=args.shards,
                                                       short_side=args.short_side,
                                                       beam_args=[f"--direct_num_workers={args.workers}"]))
        assert manifest["num_videos"] == n and manifest["num_frames"] == total_frames
        results["shard (DirectRunner)"] = {"seconds": seconds, "videos_per_s": n / seconds,
                                           "frames_per_s": total_frames / seconds}
        # fixed costs (process start-up, imports, Beam's finalize): the same call on one video
        (work / "one").mkdir()
        shutil.copy(videos[0], work / "one" / videos[0].name)
        _, one = timed(lambda: extract_frames(work / "one", work / "one_frames", short_side=args.short_side,
                                              workers=args.workers, progress=False))
        results["extract-frames"]["one_video_seconds"] = one
        _, one = timed(lambda: write_shards(work / "one", work / "one_out", num_shards=1, short_side=args.short_side,
                                            beam_args=[f"--direct_num_workers={args.workers}"]))
        results["shard (DirectRunner)"]["one_video_seconds"] = one
        for row in results.values():  # None when the machine's load swamps the difference
            extra = row["seconds"] - row["one_video_seconds"]
            row["videos_per_s_past_startup"] = (n - 1) / extra if extra > 0 else None
        for name, row in results.items():
            print(f"{name}: {n} videos, {total_frames} frames in {row['seconds']:.1f} s = "
                  f"{row['videos_per_s']:.2f} videos/s, {row['frames_per_s']:.0f} frames/s"
                  + f" (one video: {row['one_video_seconds']:.1f} s; past start-up "
                  + (f"{row['videos_per_s_past_startup']:.2f} videos/s)" if row["videos_per_s_past_startup"]
                     else "not measurable)"),
                  flush=True)
        sizes = [os.path.getsize(shard_dir / s) for s in manifest["shards"]]
        frame_bytes = sum(f.stat().st_size for f in frames_dir.rglob("*.jpg"))

        # training reads of the same videos, labels 0
        sources = {
            "shards": read_shards(shard_dir),
            "frame folders": [VideoRecord(str(frames_dir / v.stem), None, 0) for v in videos],
            "videos": [VideoRecord(str(v), None, 0) for v in videos],
        }
        sources["shards"].records[:] = [VideoRecord(r.path, r.num_frames, 0) for r in sources["shards"].records]
        reads = {name: [] for name in sources}
        for _ in range(args.rounds):  # interleaved rounds: the machine's load changes between them
            for name, source in sources.items():
                reads[name].append(read_rate(source, args.frames, args.batch_size, args.batches, args.warmup))
        for name, rates in reads.items():
            print(f"training reads from {name}: median {sorted(rates)[len(rates) // 2]:.1f} clips/s "
                  f"(rounds: {', '.join(f'{r:.1f}' for r in rates)})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "videos": n, "frames": total_frames, "copies_of_ssv2_sample": args.copies, "workers": args.workers,
        "short_side": args.short_side, "prepare": results,
        "shard_bytes": sum(sizes), "frame_jpeg_bytes": frame_bytes, "bytes_per_frame": sum(sizes) / total_frames,
        "train_reads_clips_per_s": reads, "clip": [args.frames, 224, 224], "batch_size": args.batch_size,
        "model_clips_per_s": args.model_clips_per_s, "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "machine": platform.processor() or platform.machine(),
        "tensorflow": tf.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
