"""`keras-gst bench NAME [ARGS]`: run a benchmark of `keras_gst.benchmarks` (shipped with the package)."""

import argparse
import importlib


def register(subparsers):
    from keras_gst.benchmarks import BENCHMARKS

    parser = subparsers.add_parser(
        "bench",
        help="Run a benchmark (inference, export, data); arguments after the name go to it.",
        description="Runs a benchmark of keras_gst.benchmarks. Arguments after the name are passed on, e.g. "
        "`keras-gst bench inference --quick`; `keras-gst bench NAME --help` lists them.\n\n"
        + "\n".join(f"  {name:10} {text}" for name, text in BENCHMARKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark (see NAME --help)")
    parser.set_defaults(func=run)


def run(args):
    module = importlib.import_module(f"keras_gst.benchmarks.{args.name}")
    try:
        return module.main(list(args.args))
    except SystemExit as done:  # the benchmark's argparse (--help, bad option)
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
