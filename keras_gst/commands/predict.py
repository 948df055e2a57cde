"""`keras-gst predict VIDEO --model M.keras|PRESET_DIR|M.tflite|SAVEDMODEL_DIR`: top-k classes of one video.

The video (or frame folder) is decoded with the evaluation transform (TSN test sampling, short side
resized, centre crop, ImageNet normalisation) at the model's T and frame size. `--clips N --crops M`:
the multi-view test of `keras-gst eval` (its pipeline and view averaging) for one video.
"""

import json
import os
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
    parser.add_argument("--clips", type=A.positive_int, default=1, help="multi-view: clips per video (logits averaged, as eval)")
    parser.add_argument("--crops", type=int, default=1, choices=[1, 3, 5, 10], help="multi-view: crops per clip")
    parser.set_defaults(func=run)


def run(args):
    from keras_gst.export.clips import ClipReadError, load_clip
    from keras_gst.export.predictor import load_predictor, read_labels

    try:
        predictor = load_predictor(args.model, args.frames, args.size, num_threads=args.threads)
        labels_path = args.labels or _preset_labels(args.model)
        labels = read_labels(labels_path, predictor.num_classes) if labels_path else None
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.clips * args.crops > 1:
        if args.timing:
            print("error: --timing measures one view; drop --clips/--crops", file=sys.stderr)
            return 2
        import tensorflow as tf

        try:
            if not os.path.exists(args.video):
                raise FileNotFoundError("no such video or frame folder")
            logits = _multi_view_logits(predictor, args.video, args.clips, args.crops)
        except (ClipReadError, FileNotFoundError, OSError, ValueError, tf.errors.OpError) as e:
            print(f"error: {args.video}: {e}", file=sys.stderr)
            return 2
        return _report(args, predictor, labels, logits, None)
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
    return _report(args, predictor, labels, logits, timing)


def _multi_view_logits(predictor, video, num_clips, num_crops):
    """Averaged logits of `num_clips` x `num_crops` views of one video, through eval's own code: the
    evaluation pipeline (`build_dataset`, pixels kept unnormalised for the model file) and
    `predict_scores`."""
    from keras_gst.data import VideoRecord, build_dataset
    from keras_gst.evaluation import predict_scores
    from keras_gst.export.clips import scale_size_for

    ds = build_dataset([VideoRecord(video, None, 0)], num_frames=predictor.num_frames, training=False,
                       batch_size=1, template="auto", scale_size=scale_size_for(predictor.size),
                       crop_size=predictor.size, num_clips=num_clips, num_crops=num_crops,
                       mean=(0.0, 0.0, 0.0), std=(1 / 255, 1 / 255, 1 / 255), on_error="raise")  # pixels
    scores, _ = predict_scores(None, ds, forward=predictor.logits)
    return scores[0]


def _report(args, predictor, labels, logits, timing):
    import numpy as np

    from keras_gst.export.predictor import top_k

    if not np.all(np.isfinite(logits)):
        print(f"error: {args.model} gives NaN or infinite scores for {args.video}: its weights are not finite "
              "(e.g. saved from a training run that diverged); use an earlier checkpoint", file=sys.stderr)
        return 2
    results = top_k(logits, min(args.topk, predictor.num_classes), labels)
    if args.json:
        out = {
            "video": args.video,
            "model": args.model,
            "format": predictor.kind,
            "frames": predictor.num_frames,
            "size": predictor.size,
            "views": args.clips * args.crops,
            "topk": results,
        }
        if timing:
            out["timing"] = timing
        print(json.dumps(out))
        return 0
    views = f", {args.clips} clip(s) x {args.crops} crop(s) averaged" if args.clips * args.crops > 1 else ""
    print(f"{args.video}: {predictor.kind} model {args.model}, {predictor.num_frames}x{predictor.size}x{predictor.size}{views}")
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
