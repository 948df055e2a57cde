"""`keras-gst` command line: one entry point, one module per subcommand.

Each module listed in ``COMMANDS`` defines ``register(subparsers)``, which adds its subparser and sets
``func`` (called with the parsed ``argparse.Namespace``, returning an exit code or None). Registering
imports no TensorFlow / Keras (commands import them inside ``run``), so ``--help`` and argument errors
are instant.

Runtime logs: by default the CLI hides the native runtime logs of TensorFlow, TFLite and gRPC
(`keras_gst.quiet.quiet_runtime_logs`) and keeps everything else; ``keras-gst --verbose CMD`` shows them.
"""

import argparse
import contextlib
import importlib
import sys

from keras_gst.quiet import NATIVE_LOG_LINE, quiet_runtime_logs  # noqa: F401  (NATIVE_LOG_LINE: tests, docs)

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
VERBOSE_HELP = "show the runtime logs of TensorFlow, TFLite, gRPC (hidden by default)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-gst",
        description="GST (Grouped Spatial-Temporal aggregation) video models for Keras 3.",
    )
    parser.add_argument("--verbose", dest="show_logs", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    for sub in subparsers.choices.values():  # `keras-gst CMD ... --verbose` too (not `train`: there it is Keras')
        with contextlib.suppress(argparse.ArgumentError):  # the command has its own --verbose
            sub.add_argument("--verbose", dest="show_logs", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with contextlib.nullcontext() if args.show_logs else quiet_runtime_logs():
            code = args.func(args)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM where a command turns it into keras_gst.atomic.Interrupted
        print(str(e) or "interrupted", file=sys.stderr, flush=True)
        return getattr(e, "exit_code", 130)
    except OSError as e:  # a full disk, a read-only folder: the message names the file or folder
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
