"""`keras-gst info`: build a model and print its summary, parameter and MAC counts."""

import json

from keras_gst.commands import argtypes as A


def register(subparsers):
    parser = subparsers.add_parser("info", help="Build a GST/baseline model and print params and MACs.")
    add_model_arguments(parser)
    parser.add_argument("--frames", type=A.positive_int, default=8, help="frames per clip for the MAC count, 1..256 (default 8)")
    parser.add_argument("--size", type=A.positive_int, default=224, help="frame height and width for the MAC count, 32..1024 (default 224)")
    parser.add_argument("--summary", action="store_true", help="also print the Keras layer summary")
    parser.add_argument("--json", action="store_true", help="print one JSON line (keys params, params_total, macs)")
    parser.set_defaults(func=run)


def add_model_arguments(parser, num_classes_default=174):
    """Model selection flags shared by the CLI commands that build models."""
    from keras_gst.layers.unit_args import check_alpha, check_beta, check_groups
    from keras_gst.models.specs import BLOCKS, RESNET_SPECS

    parser.add_argument("--model", default="gst_resnet50", choices=[f"gst_resnet{d}" for d in RESNET_SPECS])
    parser.add_argument("--block", default="gst", choices=BLOCKS, help="GST or a Table 2 baseline")
    parser.add_argument("--alpha", type=A.checked(check_alpha), default=0.25, help="GST share of temporal output channels")
    parser.add_argument("--beta", type=A.checked(check_beta), default=0.5, help="GST share of spatial input channels (1 = GST-Large)")
    parser.add_argument("--groups", type=A.checked(check_groups, int), default=1, help="channel groups of the c3d convolutions")
    parser.add_argument("--num-classes", type=A.positive_int, default=num_classes_default)


def build_model_from_args(args, weights=None, **kwargs):
    """A `GSTVideoClassifier` from the model flags (`weights` loaded, see `keras_gst.weights.load_weights`)."""
    from keras_gst.applications import build_classifier

    depth = int(args.model.rsplit("resnet", 1)[1])
    return build_classifier(depth, args.num_classes, weights=weights, alpha=args.alpha, beta=args.beta,
                            block=args.block, groups=args.groups, **kwargs)


MODEL_FLAGS = {"alpha": "--alpha", "beta": "--beta", "groups": "--groups", "block": "--block",
               "num_classes": "--num-classes"}  # build_classifier keyword -> flag of add_model_arguments
FLAGS = {"num_frames": "--frames", "size": "--size", **MODEL_FLAGS}


def run(args):
    from keras_gst.checks import SIZE_RANGE, check_num_frames, check_range
    from keras_gst.commands.report import fail
    from keras_gst.errors import KerasGSTError

    try:
        check_num_frames(args.frames)
        check_range("size", args.size, *SIZE_RANGE)
    except KerasGSTError as e:
        return fail("info", e, FLAGS)
    from keras_gst.analysis import count_macs, count_params

    try:
        model = build_model_from_args(args)
    except ValueError as e:  # an architecture the flags cannot build (alpha / groups that do not divide, ...)
        return fail("info", e, FLAGS)
    counts = count_params(model)
    macs = count_macs(model, (args.frames, args.size, args.size, 3))
    result = {
        "model": args.model,
        "block": args.block,
        "alpha": args.alpha,
        "beta": args.beta,
        "groups": args.groups,
        "num_classes": args.num_classes,
        "frames": args.frames,
        "size": args.size,
        **counts,
        "macs": macs,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    if args.summary:
        model.summary()
    print(f"{model.name}: {args.num_classes} classes, {args.frames}x{args.size}x{args.size} clip")
    print(f"  trainable parameters (PyTorch's count):      {counts['params']:,}")
    print(f"  all weights incl. BN moving statistics:      {counts['params_total']:,}")
    print(f"  multiply-accumulates per clip (conv + fc):   {macs / 1e9:.2f} G")
    return 0
