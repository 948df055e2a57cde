"""`keras-gst eval MODEL`: top-1 / top-5 / mean class accuracy of a saved model on an annotated split,
single view or multi-view (clips x crops, averaged), with a confusion matrix (PNG + CSV) and a per-class
report. `--epic-verb-scores` + `--epic-noun-scores` combine two saved runs into EPIC verb/noun/action."""

import json
import sys

from keras_gst.commands import argtypes as A


def register(subparsers):
    from keras_gst.commands.train import add_data_arguments
    from keras_gst.training.recipe import Recipe

    p = subparsers.add_parser("eval", help="Evaluate a saved model: top-1/5, mean class acc., confusion matrix, multi-view.",
                              description=__doc__)
    p.add_argument("model", nargs="?", help="saved model: a .keras file or a preset directory (keras-gst convert-torch --out)")
    p.add_argument("--annotations", "--list", dest="annotations", help="the split to evaluate (format of --dataset)")
    add_data_arguments(p, Recipe(on_error="skip"), splits=False)
    views = p.add_argument_group("views")
    views.add_argument("--frames", type=A.positive_int, default=None, help="frames per clip (default: the model's, else 8)")
    views.add_argument("--scale-size", type=A.positive_int, default=256)
    views.add_argument("--crop-size", type=A.positive_int, default=None, help="default: the model's input size, else 224")
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


def _error(message):
    print(f"keras-gst eval: error: {message}", file=sys.stderr)
    return 2


def run(args):
    if args.epic_verb_scores or args.epic_noun_scores:
        if not (args.epic_verb_scores and args.epic_noun_scores):
            return _error("--epic-verb-scores and --epic-noun-scores go together")
        return _epic(args)
    if not args.model or not args.annotations:
        return _error("MODEL and --annotations are required")
    try:
        return _evaluate(args)
    except (FileNotFoundError, ValueError) as e:  # bad model, data or labels: the message names it
        return _error(e)


def _evaluate(args):
    from keras_gst.data import build_dataset
    from keras_gst.evaluation import evaluate, format_report
    from keras_gst.models import load_model
    from keras_gst.training.recipe import Recipe, frame_template, load_annotations

    model = load_model(args.model, preprocessor=False)  # the pipeline normalises the clips
    recipe = Recipe(dataset=args.dataset, data_root=args.data_root, val_annotations=args.annotations,
                    class_file=args.class_file, source=args.source, target=args.target, template=args.template,
                    num_classes=args.num_classes, on_error=args.on_error)
    ann = load_annotations(recipe, "val")
    if not len(ann):
        return _error(f"no readable clips in {args.annotations} ({len(ann.skipped)} entries skipped)")
    frames = args.frames or getattr(model, "num_frames", None) or 8
    crop = args.crop_size or (getattr(model, "frame_shape", (None,))[0]) or 224
    class_names = ann.class_names or None
    ds = build_dataset(ann, num_frames=frames, training=False, batch_size=args.batch_size, class_names=class_names,
                       num_classes=args.num_classes or getattr(model, "num_classes", None), template=frame_template(recipe),
                       sampling=args.sampling, scale_size=args.scale_size, crop_size=crop, num_clips=args.clips,
                       num_crops=args.crops, on_error=args.on_error)
    result = evaluate(model, ds, class_names, args.output_dir, average=args.average, max_batches=args.max_batches)
    headline = {k: result[k] for k in ("top1", "top5", "mean_class_accuracy", "num_samples")}
    headline.update(views=args.clips * args.crops, skipped_annotations=len(ann.skipped))
    if args.json:
        print(json.dumps(headline))
    else:
        print(f"{model.name} on {args.annotations}: {args.clips} clip(s) x {args.crops} crop(s) per video")
        print(format_report(result, class_names))
        if args.output_dir:
            print(f"confusion matrix, per-class report, scores: {args.output_dir}")
    return 0
