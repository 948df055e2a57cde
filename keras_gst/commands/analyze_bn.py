"""`keras-gst analyze-bn MODEL`: the paper's Fig. 4, |gamma| histograms of each GST unit's BatchNorm for
spatial vs temporal channels (PNG grid), with a per-unit table of mean |gamma|."""

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail

ARCHITECTURES = ("gst_resnet18", "gst_resnet34", "gst_resnet50", "gst_resnet101")


def register(subparsers):
    p = subparsers.add_parser("analyze-bn", help="Fig. 4: BN |gamma| histograms, spatial vs temporal channels per GST unit.",
                              description=__doc__)
    p.add_argument("model", help="saved model (.keras or preset directory), or an architecture name (gst_resnet18..101) "
                                 "for a random init")
    p.add_argument("--output", default="bn_gamma.png", help="PNG to write (default bn_gamma.png)")
    p.add_argument("--bins", type=A.positive_int, default=20)
    p.add_argument("--columns", type=A.positive_int, default=4)
    p.add_argument("--num-classes", type=A.positive_int, default=174, help="with an architecture name")
    p.set_defaults(func=run)


FLAGS = {"model": "MODEL", "output": "--output", "bins": "--bins", "columns": "--columns", "num_classes": "--num-classes"}


def run(args):
    from keras_gst.checks import check_output, check_range
    from keras_gst.errors import KerasGSTError

    try:
        check_range("bins", args.bins, 1, 1000)
        check_range("columns", args.columns, 1, 64)
        check_range("num_classes", args.num_classes, 1, 100000)
        check_output("output", args.output)
        model = _model(args)
    except KerasGSTError as e:
        return fail("analyze-bn", e, FLAGS)
    from keras_gst.analysis.bn import gamma_summary, plot_gamma_histograms

    plot_gamma_histograms(model, args.output, bins=args.bins, columns=args.columns)
    print(f"{'unit':<20} {'spatial':>7} {'temporal':>8} {'mean|g| s':>9} {'mean|g| t':>9}")
    for name, ns, nt, ms, mt in gamma_summary(model):
        print(f"{name:<20} {ns:>7} {nt:>8} {ms:>9.4f} {mt:>9.4f}")
    print(f"wrote {args.output}")
    return 0


def _model(args):
    """A random-init architecture by name, else a saved model (`ModelFileError` naming a bad one)."""
    if args.model in ARCHITECTURES:
        from keras_gst.applications import build_classifier

        return build_classifier(int(args.model.rsplit("resnet", 1)[1]), args.num_classes)
    from keras_gst.models import load_model

    return load_model(args.model)
