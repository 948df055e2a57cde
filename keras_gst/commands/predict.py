"""`keras-gst predict VIDEO [VIDEO ...] --model M.keras|PRESET_DIR|M.tflite|SAVEDMODEL_DIR`: top-k classes.

Each video (or frame folder) is decoded with the evaluation transform (TSN test sampling, short side
resized, centre crop, ImageNet normalisation) at the model's T and frame size. `--clips N --crops M`:
the multi-view test of `keras-gst eval` (its pipeline and view averaging). The work is
`keras_gst.export.predict`; every flag is checked before the model is loaded.
"""

import json

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import Progress, fail

FLAGS = {"model": "--model", "video": "VIDEO", "labels": "--labels", "top_k": "--topk", "num_frames": "--frames",
         "size": "--size", "num_threads": "--threads", "timing": "--timing", "runs": "--runs", "num_clips": "--clips",
         "num_crops": "--crops", "trust_savedmodel": "--trust-savedmodel"}


def register(subparsers):
    parser = subparsers.add_parser("predict", help="Classify videos with a .keras, .tflite or SavedModel model.",
                                   description=__doc__)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or frame folders")
    parser.add_argument("--model", required=True,
                        help="a .keras file, a keras-hub preset directory, a .tflite file or a SavedModel directory")
    parser.add_argument("--labels", default=None,
                        help="class names, one per line, in class-index order (default: a preset's labels.txt)")
    parser.add_argument("--topk", type=A.positive_int, default=5)
    parser.add_argument("--frames", type=int, default=None, help="T (1..256), where the model leaves it open (default 8)")
    parser.add_argument("--size", type=int, default=None,
                        help="crop size (32..1024), where the model leaves it open (default 224)")
    parser.add_argument("--threads", type=A.positive_int, default=2, help="TFLite interpreter threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object per video")
    parser.add_argument("--timing", action="store_true",
                        help="report ms per clip for decode, preprocessing and the model separately (median of "
                             "--runs warm passes; the first pass is reported too)")
    parser.add_argument("--runs", type=A.positive_int, default=5, help="warm passes timed by --timing (median reported)")
    parser.add_argument("--clips", type=A.positive_int, default=1, help="multi-view: clips per video (logits averaged, as eval)")
    parser.add_argument("--crops", type=int, default=1, choices=[1, 3, 5, 10], help="multi-view: crops per clip")
    parser.add_argument("--trust-savedmodel", action="store_true",
                        help="run a SavedModel without checking its ops (only one from a trusted source)")
    parser.set_defaults(func=run)


def run(args):
    from keras_gst.checks import check_predict_args
    from keras_gst.errors import KerasGSTError

    options = dict(labels=args.labels, top_k=args.topk, num_frames=args.frames, size=args.size, num_clips=args.clips,
                   num_crops=args.crops, timing=args.timing, runs=args.runs, num_threads=args.threads)
    try:
        check_predict_args(args.model, args.videos, **options)  # before the model is loaded
        predictor = _open(args)
    except KerasGSTError as e:
        return fail("predict", e, FLAGS)
    from keras_gst.export.inference import predict

    progress = Progress(len(args.videos), "video", "predict")
    failed = 0
    for video in args.videos:
        try:
            result = predict(predictor, video, **options)
        except KerasGSTError as e:
            if getattr(e, "param", None) not in (None, "video"):
                progress.close()
                return fail("predict", e, FLAGS)
            fail("predict", e, FLAGS)
            failed += 1
        else:
            _print(args, result)
        progress()
    progress.close(failed)
    return 2 if failed else 0


def _open(args):
    from keras_gst.export.inference import class_names_for, open_model

    predictor = open_model(args.model, args.frames, args.size, args.threads, args.trust_savedmodel)
    class_names_for(predictor, args.labels)  # a wrong count is refused before any video is read
    return predictor


def _print(args, result):
    if args.json:
        out = {"video": result.video, "model": result.model, "format": result.format, "frames": result.num_frames,
               "size": result.size, "views": result.views, "topk": result.topk}
        if result.timing:
            out["timing"] = result.timing
        print(json.dumps(out), flush=True)
        return
    views = f", {args.clips} clip(s) x {args.crops} crop(s) averaged" if result.views > 1 else ""
    print(f"{result.video}: {result.format} model {result.model}, {result.num_frames}x{result.size}x{result.size}{views}")
    for r in result.topk:
        print(f"  {r['rank']:2d}. {r['probability']:7.2%}  [{r['index']:4d}] {r['label']}")
    timing = result.timing
    if timing:
        first = timing["first_call_ms"]
        print(f"  timing (ms/clip, median of {timing['runs']} warm runs): decode {timing['decode_ms']:.1f}, "
              f"preprocess {timing['preprocess_ms']:.1f}, model {timing['model_ms']:.1f} (first call: "
              f"{first['decode']:.1f}, {first['preprocess']:.1f}, {first['model']:.1f})", flush=True)
