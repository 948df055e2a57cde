"""`keras-gst predict VIDEO --model M.keras|PRESET_DIR|M.tflite|SAVEDMODEL_DIR`: top-k classes of one video.

The video (or frame folder) is decoded with the evaluation transform (TSN test sampling, short side
resized, centre crop, ImageNet normalisation) at the model's T and frame size.
"""

import json
import sys
import time

from keras_gst.commands import argtypes as A


def register(subparsers):
    parser = subparsers.add_parser("predict", help="Classify a video with a .keras, .tflite or SavedModel model.")
    parser.add_argument("video", help="a video file or a frame folder")
    parser.add_argument("--model", required=True,
                        help="a .keras file, a keras-hub preset directory, a .tflite file or a SavedModel directory")
    parser.add_argument("--labels", default=None,
                        help="class names, one per line, in class-index order (default: a preset's labels.txt)")
    parser.add_argument("--topk", type=A.positive_int, default=5)
    parser.add_argument("--frames", type=A.positive_int, default=None, help="T, where the model leaves it open (default 8)")
    parser.add_argument("--size", type=A.positive_int, default=None, help="crop size, where the model leaves it open (default 224)")
    parser.add_argument("--threads", type=A.positive_int, default=2, help="TFLite interpreter threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timing", action="store_true",
                        help="report ms per clip for decode, preprocessing and the model separately (median of "
                             "--runs warm passes; the first pass is reported too)")
    parser.add_argument("--runs", type=A.positive_int, default=5, help="warm passes timed by --timing (median reported)")
    parser.set_defaults(func=run)


def run(args):
    from keras_gst.export.clips import ClipReadError, load_clip
    from keras_gst.export.predictor import load_predictor, read_labels, top_k

    try:
        predictor = load_predictor(args.model, args.frames, args.size, num_threads=args.threads)
        labels_path = args.labels or _preset_labels(args.model)
        labels = read_labels(labels_path, predictor.num_classes) if labels_path else None
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    timings = {}
    try:
        clip = load_clip(args.video, predictor.num_frames, predictor.size, timings=timings)
    except ClipReadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import numpy as np

    start = time.perf_counter()
    logits = predictor.logits(clip[None])[0]
    first = time.perf_counter() - start
    if not np.all(np.isfinite(logits)):
        print(f"error: {args.model} gives NaN or infinite scores for {args.video}: its weights are not finite "
              "(e.g. saved from a training run that diverged); use an earlier checkpoint", file=sys.stderr)
        return 2
    timing = None
    if args.timing:  # warm passes: the first pays for TF/interpreter start-up
        import numpy as np

        runs = []
        for _ in range(max(1, args.runs)):
            warm = {}
            load_clip(args.video, predictor.num_frames, predictor.size, timings=warm)
            start = time.perf_counter()
            predictor.logits(clip[None])
            runs.append((warm["decode"], warm["preprocess"], time.perf_counter() - start))
        decode_s, preprocess_s, model_s = np.median(np.asarray(runs), axis=0)
        timing = {
            "decode_ms": 1e3 * decode_s,
            "preprocess_ms": 1e3 * preprocess_s,
            "model_ms": 1e3 * model_s,
            "runs": len(runs),
            "first_call_ms": {"decode": 1e3 * timings["decode"], "preprocess": 1e3 * timings["preprocess"],
                              "model": 1e3 * first},
        }
    results = top_k(logits, min(args.topk, predictor.num_classes), labels)
    if args.json:
        out = {
            "video": args.video,
            "model": args.model,
            "format": predictor.kind,
            "frames": predictor.num_frames,
            "size": predictor.size,
            "topk": results,
        }
        if timing:
            out["timing"] = timing
        print(json.dumps(out))
        return 0
    print(f"{args.video}: {predictor.kind} model {args.model}, {predictor.num_frames}x{predictor.size}x{predictor.size}")
    for r in results:
        print(f"  {r['rank']:2d}. {r['probability']:7.2%}  [{r['index']:4d}] {r['label']}")
    if timing:
        first = timing["first_call_ms"]
        print(f"  timing (ms/clip, median of {timing['runs']} warm runs): decode {timing['decode_ms']:.1f}, preprocess {timing['preprocess_ms']:.1f}, "
              f"model {timing['model_ms']:.1f} (first call: {first['decode']:.1f}, {first['preprocess']:.1f}, "
              f"{first['model']:.1f})")
    return 0


def _preset_labels(model_path):
    import os

    path = os.path.join(model_path, "labels.txt")
    return path if os.path.isdir(model_path) and os.path.isfile(path) else None
