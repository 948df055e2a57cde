"""`keras-gst train`: train a GST / baseline model from annotation files (any supported format) or class
folders (`--data DIR`), then optionally export OUT/model.tflite.

The flags map one to one onto `keras_gst.training.Recipe` fields and the keywords of
`keras_gst.training.fine_tune`, which runs the whole workflow; this module parses, calls it and maps a
typed error's parameter to its flag (`FLAGS`). `recipes/train_*.py` run `keras-gst train --recipe FILE`:
the recipe's values become the defaults of every flag. Adding a data source is a new `--dataset` choice
in `keras_gst.training.recipe` (reader dispatch) with no change here.
"""

import argparse
import contextlib
import dataclasses
import json
import sys
import warnings

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail

PROG = "keras-gst train"
DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
# Recipe field / fine_tune keyword -> flag, filled as the flags are added (`_flag`); fields whose flag has
# another form are added by hand.
FLAGS = {"depth": "--model", "devices": "--cpu-replicas", "image_size": "--crop-size"}


def _flag(container, *names, **kwargs):
    action = container.add_argument(*names, **kwargs)
    FLAGS.setdefault(action.dest, action.option_strings[0])
    return action


def _bool_or_auto(text):
    return {"auto": "auto", "on": True, "true": True, "off": False, "false": False}[text.lower()]


def _int_list(text):
    return tuple(int(x) for x in text.replace(",", " ").split()) if text.strip() else ()


def add_data_arguments(parser, defaults, splits=True):
    """The data flags (format, root, annotation files, classes) shared by `train` and `eval`."""
    from keras_gst.training.recipe import DATASETS

    d = defaults
    data = parser.add_argument_group("data")
    _flag(data, "--dataset", choices=DATASETS, default=d.dataset, help="annotation format (default %(default)s)")
    _flag(data, "--data-root", default=d.data_root, help="root of the videos / frame folders (list files: default the list file's folder)")
    if splits:
        _flag(data, "--train-annotations", "--train-list", dest="train_annotations", default=d.train_annotations,
              help="training split annotation file (list file, CSV or JSON of --dataset; --dataset shards: "
              "a `keras-gst shard` folder or shard file pattern)")
        _flag(data, "--val-annotations", "--val-list", dest="val_annotations", default=d.val_annotations,
              help="validation split annotation file (omit: no validation)")
    _flag(data, "--class-file", default=d.class_file,
          help="class names: SSv1 labels CSV, SSv2 labels JSON, Diving48 vocab JSON, EPIC verb/noun CSV, EGTEA idx txt, or a label map")
    _flag(data, "--source", choices=["videos", "rawframes"], default=d.source, help="videos or frame folders (sthv2, diving48, epic-kitchens)")
    _flag(data, "--target", choices=["verb", "noun", "action"], default=d.target, help="EPIC-KITCHENS / EGTEA label")
    _flag(data, "--template", default=d.template, help="frame file names (default %(default)r; 'auto' detects)")
    _flag(data, "--num-classes", type=A.positive_int, default=d.num_classes, help="default: from the class names")
    _flag(data, "--on-error", choices=["skip", "raise"], default=d.on_error, help="bad data items: skip and count (default) or stop")
    return data


def add_recipe_arguments(parser, defaults):
    """Add the training flags to `parser`, with `defaults` (a `Recipe`) as default values. The model flags'
    values are checked at parse time by the model's own checks (`keras_gst.layers.unit_args`, `specs`)."""
    from keras_gst.checks import check_num_frames
    from keras_gst.layers.unit_args import check_alpha, check_beta, check_groups
    from keras_gst.models.specs import BLOCKS, RESNET_SPECS

    d = defaults
    data = add_data_arguments(parser, defaults)
    _flag(data, "--data", dest="data_dir", default=None, metavar="DIR",
          help="class folders: DIR/<class>/<videos> (class names = sorted subfolder names); instead of --train-list")
    _flag(data, "--val-split", type=A.split_share, default=None,
          help="seeded stratified validation share of the training clips when there is no --val-list "
               "(default 0.2 with --data, else no split; 0: no validation split)")
    _flag(data, "--flip", type=_bool_or_auto, default=d.flip, help="horizontal flip: auto (left/right classes swapped), on, off")
    clips = parser.add_argument_group("clips")
    _flag(clips, "--frames", dest="num_frames", type=A.checked(check_num_frames, int), default=d.num_frames,
          help="frames per clip (default %(default)s)")
    _flag(clips, "--sampling", choices=["segment", "dense"], default=d.sampling)
    _flag(clips, "--scale-size", type=A.positive_int, default=None,
          help=f"shorter side before cropping (default: --crop-size x {d.scale_size}/{d.crop_size})")
    _flag(clips, "--crop-size", "--size", dest="crop_size", type=A.positive_int, default=d.crop_size, help="input frame size")
    _flag(clips, "--val-clips", dest="val_num_clips", type=A.positive_int, default=d.val_num_clips, help="test clips per video for the final evaluation")
    _flag(clips, "--val-crops", dest="val_num_crops", type=int, choices=[1, 3, 5, 10], default=d.val_num_crops, help="test crops per clip (1, 3, 5, 10)")
    model = parser.add_argument_group("model")
    _flag(model, "--model", default=f"gst_resnet{d.depth}", choices=[f"gst_resnet{depth}" for depth in RESNET_SPECS],
          help="the network (default %(default)s)")
    _flag(model, "--block", default=d.block, choices=BLOCKS, help="GST or a baseline (C2D, C3D, P3D)")
    _flag(model, "--alpha", type=A.checked(check_alpha), default=d.alpha, help="GST share of temporal output channels")
    _flag(model, "--beta", type=A.checked(check_beta), default=d.beta, help="GST share of spatial input channels (1 = GST-Large)")
    _flag(model, "--groups", type=A.checked(check_groups, int), default=d.groups, help="channel groups of c3d (C3D-groups)")
    _flag(model, "--dropout", type=A.dropout_rate, default=d.dropout)
    _flag(model, "--weights", default=d.weights if d.weights is not None else "none",
          help="initial weights: imagenet (needs the keras-hub preset once), none (from scratch), a path "
               "(.keras, .weights.h5, .pth, or a keras-hub / keras-gst preset directory) or a preset handle")
    _flag(model, "--freeze-bn", action=argparse.BooleanOptionalAction, default=d.freeze_bn,
          help="partial BN (TSN/TSM): freeze every BatchNorm but the first (stem/bn), for small datasets")
    _flag(model, "--temporal-impl", choices=["conv3d", "conv2d"], default=d.temporal_impl)
    _flag(model, "--causal", action=argparse.BooleanOptionalAction, default=d.causal,
          help="causal temporal convolutions (current and past frames only): streams with zero delay")
    _flag(model, "--dtype", choices=DTYPES, default=d.dtype or "float32",
          help="Keras dtype policy: float32, or mixed precision for GPUs/TPUs (mixed_float16 adds loss "
               "scaling; variables and BatchNorm statistics stay float32)")
    opt = parser.add_argument_group("optimisation")
    _flag(opt, "--epochs", type=A.positive_int, default=d.epochs)
    _flag(opt, "--batch-size", type=A.positive_int, default=d.batch_size, help="clips per replica (global = x replicas)")
    _flag(opt, "--lr", dest="base_lr", type=A.non_negative_float, default=d.base_lr, help="lr for --base-batch clips, scaled to the global batch")
    _flag(opt, "--base-batch", type=A.positive_int, default=d.base_batch)
    _flag(opt, "--lr-steps", dest="decay_epochs", type=_int_list, default=d.decay_epochs,
          help="epochs at which lr x --lr-decay (default %(default)s)")
    _flag(opt, "--lr-decay", dest="decay_factor", type=A.positive_float, default=d.decay_factor)
    _flag(opt, "--momentum", type=A.non_negative_float, default=d.momentum)
    _flag(opt, "--weight-decay", type=A.non_negative_float, default=d.weight_decay, help="L2 on conv/dense kernels (not BN, not biases)")
    _flag(opt, "--clip-norm", type=A.non_negative_float, default=d.clip_norm, help="global gradient norm clip (0: off)")
    run = parser.add_argument_group("run")
    _flag(run, "--output-dir", "--out", dest="output_dir", default=d.output_dir, help="checkpoints, best/final model, TensorBoard, plots (default %(default)s)")
    _flag(run, "--resume", action=argparse.BooleanOptionalAction, default=d.resume,
          help="continue from the backup in OUTPUT_DIR/backup if a previous run was interrupted (default on)")
    _flag(run, "--strategy", choices=["auto", "mirrored", "multi_worker", "default"], default=d.strategy,
          help="auto: MultiWorkerMirrored if TF_CONFIG names several workers, else Mirrored (all local GPUs or the CPU)")
    _flag(run, "--cpu-replicas", type=A.positive_int, default=None, help="split the CPU into N logical devices (multi-replica runs without GPUs)")
    _flag(run, "--seed", type=int, default=d.seed)
    _flag(run, "--steps-per-epoch", type=A.positive_int, default=d.steps_per_epoch, help="default: ceil(training clips / global batch), one pass over the clips")
    _flag(run, "--validation-steps", type=A.positive_int, default=d.validation_steps)
    _flag(run, "--keep-checkpoints", type=A.non_negative_int, default=d.keep_checkpoints)
    _flag(run, "--histograms", action=argparse.BooleanOptionalAction, default=d.histograms, help="BN |gamma| histograms in TensorBoard")
    _flag(run, "--eval", dest="evaluate_at_end", action=argparse.BooleanOptionalAction, default=d.evaluate_at_end,
          help="evaluate the best model on the validation split at the end")
    _flag(run, "--patience", type=A.non_negative_int, default=d.patience,
          help="early stopping: epochs without a better validation top-1 (default 5 with --data, else off)")
    _flag(run, "--export", choices=["int8", "fp32", "none"], default=None,
          help="after training, OUT/model.tflite from the best model with a parity report "
               "(default int8 with --data, calibrated on the training clips; else none)")
    _flag(run, "--verbose", type=int, choices=[0, 1, 2], default=d.verbose)
    return parser


def recipe_from_args(args, defaults):
    """A `Recipe` from parsed flags (fields without a flag keep `defaults`' values); a bad value raises
    `ParameterError` naming the field."""
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


def load_recipe(path):
    """The `Recipe` of a recipe script (its `DEFAULTS`, e.g. recipes/train_diving48.py) or of a run's
    recipe.json."""
    from keras_gst.training.recipe import Recipe

    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return Recipe(**json.load(f))
    import importlib.util

    spec = importlib.util.spec_from_file_location("keras_gst_recipe_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not isinstance(getattr(module, "DEFAULTS", None), Recipe):
        raise ValueError(f"{path} defines no DEFAULTS = Recipe(...)")
    return module.DEFAULTS


def flag_values(recipe):
    """The flag values (dest -> value) that make `recipe`."""
    values = {dest: getattr(recipe, dest) for dest in FLAGS if hasattr(recipe, dest) and dest not in ("depth", "devices")}
    values.update(model=f"gst_resnet{recipe.depth}", weights=recipe.weights if recipe.weights is not None else "none",
                  dtype=recipe.dtype or "float32", scale_size=None)
    return values


class RecipeDefaults(argparse.Action):
    """`--recipe FILE`: a recipe script defining `DEFAULTS = Recipe(...)` or a run's recipe.json; its values
    replace the defaults of every flag (`--help` after it shows them); flags after it override them."""

    def __call__(self, parser, namespace, path, option_string=None):
        try:
            recipe = load_recipe(path)
        except (OSError, TypeError, ValueError, SyntaxError, ImportError) as e:
            parser.error(f"argument --recipe: cannot read a recipe from {path}: {e}")
        values = flag_values(recipe)
        if any(getattr(namespace, dest, None) != parser.get_default(dest) for dest in values):
            parser.error("argument --recipe: must come before the other flags (they override it)")
        parser.set_defaults(**values)
        for dest, value in values.items():
            setattr(namespace, dest, value)
        namespace.recipe = recipe


def register(subparsers):
    from keras_gst.training.recipe import Recipe

    parser = subparsers.add_parser(
        "train",
        help="Train a GST/baseline model (paper optimiser, MirroredStrategy, resume, TensorBoard).",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--recipe", action=RecipeDefaults, default=None, metavar="FILE",
                        help="start from a recipe: a script defining DEFAULTS = Recipe(...) (recipes/train_*.py) or "
                             "a run's recipe.json; give it first (the flags after it override its values)")
    add_recipe_arguments(parser, Recipe())
    parser.set_defaults(func=lambda args: _run_args(args, args.recipe or Recipe()))


@contextlib.contextmanager
def _library_warnings():
    """Show keras_gst's UserWarnings during a run as one `warning: ...` line each."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UserWarning) and "keras_gst" in filename:
            print(f"warning: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _run_args(args, defaults):
    """Check every flag (the recipe, the combinations, the output folder, the weights) before any data or
    model is loaded, then run `fine_tune`; exit 2 naming the flag on a bad value."""
    from keras_gst.errors import KerasGSTError
    from keras_gst.training.finetune import check_fine_tune

    try:
        recipe = recipe_from_args(args, defaults)
        check_fine_tune(recipe, args.data_dir, args.val_split, args.export)
    except KerasGSTError as e:
        return fail("train", e, FLAGS)
    return _run(recipe, args)


def _run(recipe, args):
    from keras_gst.locks import FolderLockedError
    from keras_gst.data import AnnotationError
    from keras_gst.errors import KerasGSTError
    from keras_gst.training import fine_tune, split_cpu

    if args.cpu_replicas:
        split_cpu(args.cpu_replicas)
    try:
        with _library_warnings():
            result = fine_tune(recipe, args.data_dir, args.val_split, args.export)
    except (KerasGSTError, FolderLockedError) as e:
        return fail("train", e, FLAGS)
    except (AnnotationError, FileNotFoundError, ValueError, RuntimeError) as e:  # data, weights, NaN stop
        print(f"{PROG}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if result.export_error is not None:
        print(f"{PROG}: error: the TFLite export failed: {result.export_error}\n{result.model_path} is fine: retry "
              f"with `keras-gst export --format tflite --model {result.model_path} ...`", file=sys.stderr)
        return 2
    return 0
