"""`keras-gst` command line: one entry point, one module per subcommand.

Each module listed in ``COMMANDS`` defines ``register(subparsers)``, which adds its subparser and sets
``func`` (called with the parsed ``argparse.Namespace``, returning an exit code or None). Modules are
imported only when the CLI starts, so adding a subcommand is adding a module and a line here.
"""

import argparse
import importlib
import os
import sys

COMMANDS = [
    "keras_gst.commands.info",
    "keras_gst.commands.bench",
    "keras_gst.commands.convert_torch",
    "keras_gst.commands.extract_frames",
    "keras_gst.commands.shard",
    "keras_gst.commands.train",
    "keras_gst.commands.eval",
    "keras_gst.commands.analyze_bn",
    "keras_gst.commands.explain",
    "keras_gst.commands.export",
    "keras_gst.commands.predict",
    "keras_gst.commands.stream",
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-gst",
        description="GST (Grouped Spatial-Temporal aggregation) video models for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of CLI output
    args = build_parser().parse_args(argv)
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
