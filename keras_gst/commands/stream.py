"""`keras-gst stream VIDEO [VIDEO ...] --model M`: frame-by-frame action recognition with a streaming model.

Each input (a video file, a frame folder or a camera index such as 0) is read one frame at a time; every
frame gets the evaluation transform (short side resized to size*256/224, centre crop, ImageNet
normalisation) and one step of the streaming model (.tflite of any quantization, streaming SavedModel
directory, or a .keras model streamed in process). The state is reset (zeros) at the start of every
input, and after the last frame the model is flushed (`delay` steps) so every frame gets its logits.

Printed per emitted frame: the frame index, the model's ms for that step and the running top-k (softmax of
the mean logits of the frames so far). `--json`: one line per emitted frame,
{"video", "frame", "topk": [[label, probability], ...], "ms"}. `--plot PNG`: per-frame probabilities.
"""

import json
import os
import sys

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail


def register(subparsers):
    parser = subparsers.add_parser("stream", help="Classify videos frame by frame with a streaming model (running top-k).",
                                   description=__doc__)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, frame folders or camera indices (0, 1, ...)")
    parser.add_argument("--model", required=True,
                        help="a streaming .tflite file or SavedModel directory (keras-gst export --format streaming), "
                             "or a .keras model")
    parser.add_argument("--labels", default=None, help="class names, one per line, in class-index order")
    parser.add_argument("--topk", type=A.positive_int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON line per emitted frame")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="save the per-frame probabilities as a plot (VIDEO index appended for several inputs)")
    parser.add_argument("--threads", type=A.positive_int, default=2, help="TFLite interpreter threads")
    parser.add_argument("--max-frames", type=A.positive_int, default=None, help="stop each input after this many frames (cameras)")
    parser.add_argument("--trust-savedmodel", action="store_true",
                        help="run a SavedModel without checking its ops (only one from a trusted source)")
    parser.set_defaults(func=run)


FLAGS = {"model": "--model", "video": "VIDEO", "labels": "--labels", "top_k": "--topk", "num_threads": "--threads",
         "max_frames": "--max-frames", "plot": "--plot", "trust_savedmodel": "--trust-savedmodel"}


def run(args):
    from keras_gst.checks import check_stream_args
    from keras_gst.errors import KerasGSTError

    try:
        check_stream_args(args.model, args.videos, args.labels, args.topk, args.threads, args.max_frames, args.plot)
    except KerasGSTError as e:
        return fail("stream", e, FLAGS)
    import numpy as np

    from keras_gst.data import VideoDecodeError
    from keras_gst.export.predictor import read_labels, softmax
    from keras_gst.export.stream_runner import load_stream, stream_source

    try:
        stream = load_stream(args.model, num_threads=args.threads, trust_savedmodel=args.trust_savedmodel)
        labels = read_labels(args.labels, stream.num_classes) if args.labels else None
    except KerasGSTError as e:
        return fail("stream", e, FLAGS)
    k = min(args.topk, stream.num_classes)
    names = labels or [str(i) for i in range(stream.num_classes)]
    failed, warnings = 0, 0
    for index, source in enumerate(args.videos):
        if not args.json:
            print(f"{source}: {stream.kind} stream {args.model} ({stream.frame_size[0]}x{stream.frame_size[1]}, "
                  f"delay {stream.delay} frames)")
        total, probs, times = None, [], []
        frames = stream_source(stream, source, args.max_frames)
        try:
            while True:
                i, logits, ms = next(frames)
                if not np.all(np.isfinite(logits)):
                    raise ValueError(f"{args.model} gives NaN or infinite scores: its weights are not finite")
                total = logits.astype(np.float64) if total is None else total + logits
                running = softmax(total / (i + 1))
                top = np.argsort(-running)[:k]
                probs.append(softmax(logits))
                times.append(ms)
                if args.json:
                    print(json.dumps({"video": source, "frame": i, "topk": [[names[c], float(running[c])] for c in top],
                                      "ms": round(ms, 3)}), flush=True)
                else:
                    print(f"  frame {i:5d} {ms:8.2f} ms  " + "  ".join(f"{names[c]} {running[c]:.1%}" for c in top),
                          flush=True)
        except StopIteration as stop:
            count, claimed = stop.value
        except (VideoDecodeError, OSError, ValueError) as e:  # DataFileError included: the message names the input
            print(f"error: {source}: {getattr(e, 'detail', None) or e}", file=sys.stderr)
            failed += 1
            continue
        if claimed and count < claimed and not (args.max_frames and count >= args.max_frames):
            warnings += 1
            print(f"warning: {source} ended early: {count} of the {claimed} frames its container claims", file=sys.stderr)
        if not args.json:
            print(f"  {source}: {len(times)} frames, median {np.median(times):.2f} ms/frame")
        if args.plot:
            from keras_gst.analysis import plot_frame_probabilities

            root, ext = os.path.splitext(args.plot)
            path = args.plot if len(args.videos) == 1 else f"{root}_{index}{ext or '.png'}"
            plot_frame_probabilities(np.stack(probs), path, labels, top_k=k, title=f"{os.path.basename(source)}: per-frame probabilities")
            if not args.json:
                print(f"  plot: {path}")
    if warnings:
        print(f"{warnings} input(s) ended early (see the warnings above)", file=sys.stderr)
    if failed:
        print(f"error: {failed} of {len(args.videos)} input(s) could not be streamed", file=sys.stderr)
        return 2
    return 0
