"""`keras-gst eval MODEL`: top-1 / top-5 / mean class accuracy of a saved model on an annotated split,
single view or multi-view (clips x crops, averaged), with a confusion matrix (PNG + CSV) and a per-class
report. `--epic-verb-scores` + `--epic-noun-scores` combine two saved runs into EPIC verb/noun/action."""

import json
import sys

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import Progress, fail


def register(subparsers):
    from keras_gst.commands.train import add_data_arguments
    from keras_gst.training.recipe import Recipe

    p = subparsers.add_parser("eval", help="Evaluate a saved model: top-1/5, mean class acc., confusion matrix, multi-view.",
                              description=__doc__)
    p.add_argument("model", nargs="?", help="saved model: a .keras file, a preset directory (keras-gst convert-torch --out), "
                                            "a .tflite file or a SavedModel directory")
    p.add_argument("--annotations", "--list", dest="annotations", help="the split to evaluate (format of --dataset)")
    add_data_arguments(p, Recipe(on_error="skip"), splits=False)
    views = p.add_argument_group("views")
    views.add_argument("--frames", type=A.positive_int, default=None, help="frames per clip, 1..256 (default: the model's, else 8)")
    views.add_argument("--scale-size", type=A.positive_int, default=None,
                       help="short side before the crop (default: crop size * 256 / 224)")
    views.add_argument("--crop-size", type=A.positive_int, default=None, help="32..1024 (default: the model's input size, else 224)")
    views.add_argument("--sampling", choices=["segment", "dense"], default="segment")
    views.add_argument("--clips", type=A.positive_int, default=1, help="clips per video (multi-view)")
    views.add_argument("--crops", type=int, default=1, choices=[1, 3, 5, 10], help="crops per clip (multi-view)")
    views.add_argument("--average", choices=["logits", "softmax"], default="logits", help="how views are combined")
    p.add_argument("--batch-size", type=A.positive_int, default=4, help="videos per batch")
    p.add_argument("--max-batches", type=A.positive_int, default=None, help="evaluate only the first N batches")
    p.add_argument("--output-dir", default=None, help="write confusion.png/.csv, per_class.csv, metrics.json, scores.npz here")
    p.add_argument("--epic-verb-scores", help="scores.npz of a verb model's eval (with --epic-noun-scores: action accuracy)")
    p.add_argument("--epic-noun-scores", help="scores.npz of a noun model's eval, same clips in the same order")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON line")
    p.add_argument("--trust-savedmodel", action="store_true",
                   help="run a SavedModel without checking its ops (only one from a trusted source)")
    p.set_defaults(func=run)


def _epic(args):
    import numpy as np

    from keras_gst.evaluation import epic_action_metrics

    verb, noun = np.load(args.epic_verb_scores), np.load(args.epic_noun_scores)
    if len(verb["labels"]) != len(noun["labels"]):
        return _error("the verb and noun score files cover different numbers of clips")
    result = epic_action_metrics(verb["scores"], noun["scores"], verb["labels"], noun["labels"])
    print(json.dumps(result) if args.json else "\n".join(f"{k:>12}: {v:.4f}" if isinstance(v, float) else f"{k:>12}: {v}" for k, v in result.items()))
    return 0


FLAGS = {"model": "MODEL", "annotations": "--annotations", "class_names": "--class-file", "num_frames": "--frames",
         "size": "--crop-size", "scale_size": "--scale-size", "num_clips": "--clips", "num_crops": "--crops",
         "batch_size": "--batch-size", "max_batches": "--max-batches", "output_dir": "--output-dir",
         "trust_savedmodel": "--trust-savedmodel"}


def _error(message):
    print(f"keras-gst eval: error: {message}", file=sys.stderr)
    return 2


def run(args):
    from keras_gst.errors import KerasGSTError

    if args.epic_verb_scores or args.epic_noun_scores:
        if not (args.epic_verb_scores and args.epic_noun_scores):
            return _error("--epic-verb-scores and --epic-noun-scores go together")
        return _epic(args)
    if not args.model or not args.annotations:
        return _error("MODEL and --annotations are required")
    try:
        return _evaluate(args)
    except KerasGSTError as e:
        return fail("eval", e, FLAGS)


def _evaluate(args):
    from keras_gst.checks import check_eval_args, check_input
    from keras_gst.errors import ParameterError

    views = dict(num_frames=args.frames, size=args.crop_size, scale_size=args.scale_size, num_clips=args.clips,
                 num_crops=args.crops, average=args.average, batch_size=args.batch_size, max_batches=args.max_batches,
                 output_dir=args.output_dir)
    check_eval_args(args.model, **views)  # every flag before the list is read or the model loaded
    check_input("annotations", args.annotations, "annotation file")
    if args.class_file:
        check_input("class_names", args.class_file, "class file")
    from keras_gst.evaluation import format_report
    from keras_gst.export.inference import evaluate_model
    from keras_gst.training.recipe import Recipe, frame_template, load_annotations

    recipe = Recipe(dataset=args.dataset, data_root=args.data_root, val_annotations=args.annotations,
                    class_file=args.class_file, source=args.source, target=args.target, template=args.template,
                    num_classes=args.num_classes, on_error=args.on_error)
    try:
        ann = load_annotations(recipe, "val")
    except (OSError, ValueError) as e:
        raise ParameterError("annotations", f"cannot read {args.annotations}: {e}") from None
    if not len(ann):
        raise ParameterError("annotations", f"no readable clips in {args.annotations} ({len(ann.skipped)} entries skipped)")
    class_names = ann.class_names or None
    labelled = sum(1 for r in ann.records if r.label != -1)  # what is scored (unlabeled entries are left out)
    total = labelled if args.max_batches is None else min(labelled, args.max_batches * args.batch_size)
    progress = Progress(total, "video", "eval")
    try:
        result = evaluate_model(args.model, ann, class_names, sampling=args.sampling, template=frame_template(recipe),
                                on_error=args.on_error, trust_savedmodel=args.trust_savedmodel, progress=progress,
                                **views)
    finally:
        progress.close()
    if result.unlabeled:
        print(f"keras-gst eval: warning: {result.unlabeled} unlabeled entries (label -1) of {args.annotations} left out",
              file=sys.stderr)
    headline = result.headline()
    headline.update(skipped_annotations=len(ann.skipped))
    if args.json:
        print(json.dumps(headline))
    else:
        print(f"{result.model} on {args.annotations}: {args.clips} clip(s) x {args.crops} crop(s) per video")
        print(format_report({"top1": result.top1, "top5": result.top5, "mean_class_accuracy": result.mean_class_accuracy,
                             "num_samples": result.num_samples, "per_class": result.per_class}, class_names))
        if args.output_dir:
            print(f"confusion matrix, per-class report, scores: {args.output_dir}")
    return 0
