"""`keras-gst train`: train a GST / baseline model from annotation files (any supported format).

The flags map one to one onto `keras_gst.training.Recipe` fields; `recipes/train_*.py` reuse them with
each dataset's paper defaults (`recipe_main`). Adding a data source is a new `--dataset` choice in
`keras_gst.training.recipe` (reader dispatch) with no change here.
"""

import argparse
import contextlib
import dataclasses
import re
import sys
import warnings

from keras_gst.commands import argtypes as A


DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")


def _bool_or_auto(text):
    return {"auto": "auto", "on": True, "true": True, "off": False, "false": False}[text.lower()]


def _int_list(text):
    return tuple(int(x) for x in text.replace(",", " ").split()) if text.strip() else ()


def add_data_arguments(parser, defaults, splits=True):
    """The data flags (format, root, annotation files, classes) shared by `train` and `eval`."""
    from keras_gst.training.recipe import DATASETS

    d = defaults
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default=d.dataset, help=f"annotation format (default {d.dataset})")
    data.add_argument("--data-root", default=d.data_root, help="root of the videos / frame folders (list files: default the list file's folder)")
    if splits:
        data.add_argument("--train-annotations", "--train-list", dest="train_annotations", default=d.train_annotations,
                          help="training split annotation file (list file, CSV or JSON of --dataset; --dataset shards: "
                               "a `keras-gst shard` folder or shard file pattern)")
        data.add_argument("--val-annotations", "--val-list", dest="val_annotations", default=d.val_annotations,
                          help="validation split annotation file (omit: no validation)")
    data.add_argument("--class-file", default=d.class_file,
                      help="class names: SSv1 labels CSV, SSv2 labels JSON, Diving48 vocab JSON, EPIC verb/noun CSV, EGTEA idx txt, or a label map")
    data.add_argument("--source", choices=["videos", "rawframes"], default=d.source, help="videos or frame folders (sthv2, diving48, epic-kitchens)")
    data.add_argument("--target", choices=["verb", "noun", "action"], default=d.target, help="EPIC-KITCHENS / EGTEA label")
    data.add_argument("--template", default=d.template, help=f"frame file names (default {d.template!r}; 'auto' detects)")
    data.add_argument("--num-classes", type=A.positive_int, default=d.num_classes, help="default: from the class names")
    data.add_argument("--on-error", choices=["skip", "raise"], default=d.on_error, help="bad data items: skip and count (default) or stop")
    return data


def add_recipe_arguments(parser, defaults):
    """Add the training flags to `parser`, with `defaults` (a `Recipe`) as default values."""
    d = defaults
    data = add_data_arguments(parser, defaults)
    data.add_argument("--data", dest="data_dir", default=None, metavar="DIR",
                      help="class folders: DIR/<class>/<videos> (class names = sorted subfolder names); instead of --train-list")
    data.add_argument("--val-split", type=A.split_share, default=None,
                      help="seeded stratified validation share of the training clips when there is no --val-list "
                           "(default 0.2 with --data, else no split; 0: no validation split)")
    data.add_argument("--flip", type=_bool_or_auto, default=d.flip, help="horizontal flip: auto (left/right classes swapped), on, off")
    clips = parser.add_argument_group("clips")
    clips.add_argument("--frames", dest="num_frames", type=A.positive_int, default=d.num_frames, help=f"frames per clip (default {d.num_frames})")
    clips.add_argument("--sampling", choices=["segment", "dense"], default=d.sampling)
    clips.add_argument("--scale-size", type=A.positive_int, default=None,
                       help=f"shorter side before cropping (default {d.scale_size} for {d.crop_size} crops, scaled with --crop-size)")
    clips.add_argument("--crop-size", "--size", dest="crop_size", type=A.positive_int, default=d.crop_size, help="input frame size")
    clips.add_argument("--val-clips", dest="val_num_clips", type=A.positive_int, default=d.val_num_clips, help="test clips per video for the final evaluation")
    clips.add_argument("--val-crops", dest="val_num_crops", type=int, choices=[1, 3, 5, 10], default=d.val_num_crops, help="test crops per clip (1, 3, 5, 10)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=f"gst_resnet{d.depth}", choices=["gst_resnet18", "gst_resnet34", "gst_resnet50", "gst_resnet101"])
    model.add_argument("--block", default=d.block, choices=["gst", "c2d", "c3d", "p3d"], help="GST or a baseline (C2D, C3D, P3D)")
    model.add_argument("--alpha", type=A.unit_fraction, default=d.alpha, help="GST share of temporal output channels")
    model.add_argument("--beta", type=A.unit_fraction, default=d.beta, help="GST share of spatial input channels (1 = GST-Large)")
    model.add_argument("--groups", type=A.positive_int, default=d.groups, help="channel groups of c3d (C3D-groups)")
    model.add_argument("--dropout", type=A.dropout_rate, default=d.dropout)
    model.add_argument("--weights", default=d.weights if d.weights is not None else "none",
                       help="initial weights: imagenet (needs the keras-hub preset once), none (from scratch), a path "
                            "(.keras, .weights.h5, .pth, or a keras-hub / keras-gst preset directory) or a preset handle")
    model.add_argument("--freeze-bn", action=argparse.BooleanOptionalAction, default=d.freeze_bn,
                       help="partial BN (TSN/TSM): freeze every BatchNorm but the first (stem/bn), for small datasets")
    model.add_argument("--temporal-impl", choices=["conv3d", "conv2d"], default=d.temporal_impl)
    model.add_argument("--causal", action=argparse.BooleanOptionalAction, default=d.causal,
                       help="causal temporal convolutions (current and past frames only): streams with zero delay")
    model.add_argument("--dtype", choices=DTYPES, default=d.dtype or "float32",
                       help="Keras dtype policy: float32, or mixed precision for GPUs/TPUs (mixed_float16 adds loss "
                            "scaling; variables and BatchNorm statistics stay float32)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=A.positive_int, default=d.epochs)
    opt.add_argument("--batch-size", type=A.positive_int, default=d.batch_size, help="clips per replica (global = x replicas)")
    opt.add_argument("--lr", dest="base_lr", type=A.non_negative_float, default=d.base_lr, help="lr for --base-batch clips, scaled to the global batch")
    opt.add_argument("--base-batch", type=A.positive_int, default=d.base_batch)
    opt.add_argument("--lr-steps", dest="decay_epochs", type=_int_list, default=d.decay_epochs,
                     help=f"epochs at which lr x --lr-decay (default {','.join(map(str, d.decay_epochs))})")
    opt.add_argument("--lr-decay", dest="decay_factor", type=A.positive_float, default=d.decay_factor)
    opt.add_argument("--momentum", type=A.non_negative_float, default=d.momentum)
    opt.add_argument("--weight-decay", type=A.non_negative_float, default=d.weight_decay, help="L2 on conv/dense kernels (not BN, not biases)")
    opt.add_argument("--clip-norm", type=A.non_negative_float, default=d.clip_norm, help="global gradient norm clip (0: off)")
    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", "--out", dest="output_dir", default=d.output_dir, help=f"checkpoints, best/final model, TensorBoard, plots (default {d.output_dir})")
    run.add_argument("--resume", action=argparse.BooleanOptionalAction, default=d.resume,
                     help="continue from the backup in OUTPUT_DIR/backup if a previous run was interrupted (default on)")
    run.add_argument("--strategy", choices=["auto", "mirrored", "multi_worker", "default"], default=d.strategy,
                     help="auto: MultiWorkerMirrored if TF_CONFIG names several workers, else Mirrored (all local GPUs or the CPU)")
    run.add_argument("--cpu-replicas", type=A.positive_int, default=None, help="split the CPU into N logical devices (multi-replica runs without GPUs)")
    run.add_argument("--seed", type=int, default=d.seed)
    run.add_argument("--steps-per-epoch", type=A.positive_int, default=d.steps_per_epoch, help="default: training clips // global batch")
    run.add_argument("--validation-steps", type=A.positive_int, default=d.validation_steps)
    run.add_argument("--keep-checkpoints", type=A.non_negative_int, default=d.keep_checkpoints)
    run.add_argument("--histograms", action=argparse.BooleanOptionalAction, default=d.histograms, help="BN |gamma| histograms in TensorBoard")
    run.add_argument("--eval", dest="evaluate_at_end", action=argparse.BooleanOptionalAction, default=d.evaluate_at_end,
                     help="evaluate the best model on the validation split at the end")
    run.add_argument("--patience", type=A.non_negative_int, default=d.patience,
                     help="early stopping: epochs without a better validation top-1 (default 5 with --data, else off)")
    run.add_argument("--export", choices=["int8", "fp32", "none"], default=None,
                     help="after training, OUT/model.tflite from the best model with a parity report "
                          "(default int8 with --data, calibrated on the training clips; else none)")
    run.add_argument("--verbose", type=int, choices=[0, 1, 2], default=d.verbose)
    return parser


def recipe_from_args(args, defaults):
    """A `Recipe` from parsed flags (fields without a flag keep `defaults`' values)."""
    names = {f.name for f in dataclasses.fields(defaults)}
    changes = {k: v for k, v in vars(args).items() if k in names}
    changes["depth"] = int(args.model.rsplit("resnet", 1)[1])
    if changes.get("scale_size") is None:  # the recipe's scale/crop ratio (256/224) at the requested crop
        changes["scale_size"] = int(round(args.crop_size * defaults.scale_size / defaults.crop_size))
    if getattr(args, "data_dir", None) and changes.get("patience") is None:
        changes["patience"] = 5
    if args.cpu_replicas:
        changes["devices"] = None
    return dataclasses.replace(defaults, **changes)


def cli_spelling(text, defaults=None):
    """Recipe keywords in a library message -> this command's flags: `weights=None` -> `--weights none`,
    `weights='x'` -> `--weights x`, `freeze_bn=True` -> `--freeze-bn`, `batch_size` -> `--batch-size`."""
    from keras_gst.training.recipe import Recipe

    parser = add_recipe_arguments(argparse.ArgumentParser(add_help=False), defaults or Recipe())
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}  # noqa: SLF001

    def keyword(match):
        name, value = match.group(1), match.group(2)
        if name not in flags:
            return match.group(0)
        value = value.strip("'\"")
        if value in ("True", "False"):
            return flags[name] if value == "True" else "--no-" + flags[name][2:]
        return f"{flags[name]} {'none' if value == 'None' else value}"

    text = re.sub(r"\b([a-z_]+)=('[^']*'|\"[^\"]*\"|[\w+-]+(?:\.+[\w+-]+)*)", keyword, text)
    return re.sub(r"\b[a-z]+_[a-z_]+\b", lambda m: flags.get(m.group(0), m.group(0)), text)


@contextlib.contextmanager
def _warnings_in_cli_spelling(defaults=None):
    """Show keras_gst's UserWarnings during a run as `warning: ...` lines in the CLI's spelling."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UserWarning) and "keras_gst" in filename:
            print(f"warning: {cli_spelling(str(message), defaults)}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _run_recipe(recipe, cpu_replicas=None, args=None):
    from keras_gst.data import AnnotationError
    from keras_gst.training import fit, split_cpu
    from keras_gst.training.finetune import finetune_records, finish_run

    if cpu_replicas:
        split_cpu(cpu_replicas)
    data_dir = getattr(args, "data_dir", None)
    val_split = getattr(args, "val_split", None)
    if data_dir and recipe.train_annotations:
        print("error: pass either --data DIR or --train-list FILE, not both", file=sys.stderr)
        return 2
    try:
        train, val = finetune_records(recipe, data_dir, val_split if val_split is not None or not data_dir else 0.2)
    except (AnnotationError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if train is not None and train.skipped:
        print(f"{len(train.skipped)} entries skipped (not videos / missing / bad labels), e.g. {train.skipped[0]}")
    try:
        with _warnings_in_cli_spelling():
            result = fit(recipe, train_records=train, val_records=val)
    except (FileNotFoundError, ValueError, RuntimeError) as e:  # bad weights/data, NaN stop: messages name the cause
        print(f"error: {type(e).__name__}: {cli_spelling(str(e))}", file=sys.stderr)
        return 2
    if result.is_chief:
        outputs = finish_run(result, recipe.output_dir)
        print(f"done in {result.seconds:.0f}s: best model {result.paths['best']}")
        best = "validation top-1" if val is not None else "training top-1: no validation set"
        print(f"wrote {outputs['model']} (best on {best}) and {outputs['labels']} ({result.num_classes} classes)")
        if result.evaluation:
            e = result.evaluation
            print(f"validation ({e['num_samples']} clips): top-1 {e['top1']:.4f}  top-5 {e['top5']:.4f}  "
                  f"mean class accuracy {e['mean_class_accuracy']:.4f}  (report in {result.paths['eval']})")
        if result.skipped_items:
            print(f"{result.skipped_items} unreadable training files were skipped (see the log)")
        export = getattr(args, "export", None) or ("int8" if data_dir else "none")
        if export != "none":
            return export_run(outputs["model"], export, train, val, recipe, exclude=result.skipped_files)
    return 0


def _sample_paths(annotations, limit, seed, exclude=()):
    import numpy as np

    exclude = set(exclude)
    paths = [r.path for r in annotations.records if r.path not in exclude] if annotations is not None else []
    order = np.random.default_rng(seed).permutation(len(paths))
    return [paths[i] for i in order[:limit]]


def export_run(model_path, export, train, val, recipe, max_videos=16, exclude=()):
    """`keras-gst export --format tflite` of OUT/model.keras to OUT/model.tflite: `export` "int8"
    (calibrated on up to `max_videos` training videos, 2 clips each) or "fp32"; the parity report runs on
    up to `max_videos` validation videos (else the calibration videos). `exclude`: files the training
    found unreadable (`FitResult.skipped_files`), never used. Returns the export's exit code."""
    import os

    from keras_gst.commands import export as export_command

    seed = recipe.seed or 0
    calibration = _sample_paths(train, max_videos, seed, exclude)
    parity = _sample_paths(val, max_videos, seed, exclude) or calibration
    parser = argparse.ArgumentParser(prog="keras-gst export")
    export_command.add_arguments(parser, fixed_format="tflite")
    out = os.path.join(os.path.dirname(model_path), "model.tflite")
    args = parser.parse_args(["--model", model_path, "--out", out, "--quantize", "none" if export == "fp32" else export,
                              "--calibration", *calibration, "--parity-data", *parity])
    print(f"exporting {out} ({export})", flush=True)
    code = export_command.run(args)
    if code:
        print(f"error: the TFLite export failed (exit {code}); {model_path} is fine: retry with "
              f"`keras-gst export --format tflite --model {model_path} ...`", file=sys.stderr)
    return code


def recipe_main(defaults, argv=None, description=None):
    """Entry point of `recipes/train_*.py`: parse the flags over `defaults` and train."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_recipe_arguments(parser, defaults)
    args = parser.parse_args(argv)
    return _run_args(args, defaults)


def register(subparsers):
    from keras_gst.training.recipe import Recipe

    parser = subparsers.add_parser(
        "train",
        help="Train a GST/baseline model (paper optimiser, MirroredStrategy, resume, TensorBoard).",
        description=__doc__.split("\n\n")[0],
    )
    add_recipe_arguments(parser, Recipe())
    parser.set_defaults(func=lambda args: _run_args(args, Recipe()))


def _run_args(args, defaults):
    """Check the flags that need each other or the file system, then train (exit 2 on a bad value)."""
    import os

    try:
        recipe = recipe_from_args(args, defaults)
    except ValueError as e:
        print(f"keras-gst train: error: {e}", file=sys.stderr)
        return 2
    out = recipe.output_dir
    # an unwritable or impossible --output-dir fails now, not after the data and model are built (nothing
    # is created yet: the folder may be inside the --data folder)
    existing = os.path.abspath(out)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    problem = None
    if not os.path.isdir(existing):
        problem = f"{existing} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"no permission to write in {existing}"
    if problem:
        print(f"keras-gst train: error: argument --output-dir: cannot write to {out}: {problem}", file=sys.stderr)
        return 2
    return _run_recipe(recipe, args.cpu_replicas, args)


if __name__ == "__main__":
    sys.exit(recipe_main(__import__("keras_gst.training.recipe", fromlist=["Recipe"]).Recipe()))
