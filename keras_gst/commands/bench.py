"""`keras-gst bench`: run the benchmarks in the repository's benchmarks/ folder (a source checkout)."""

import runpy
import sys
from pathlib import Path

BENCHMARKS = {
    "inference": "bench_inference.py",  # Keras/TF vs PyTorch latency, train step, matmul peak, RSS
    "export": "bench_export.py",  # size / latency / agreement of TFLite fp32, fp16, dynamic, int8
    "data": "bench_data.py",  # input pipeline clips/s vs the model's training step
}
FOLDER = Path(__file__).resolve().parents[2] / "benchmarks"


def register(subparsers):
    parser = subparsers.add_parser(
        "bench",
        help="Run a benchmark from benchmarks/ (inference, export, data); extra arguments go to it.",
        description="Runs benchmarks/bench_<name>.py of a source checkout (pip install -e .). "
        "Arguments after the name are passed on, e.g. `keras-gst bench inference --quick`.",
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("args", nargs="...", help="arguments for the benchmark script (see its --help)")
    parser.set_defaults(func=run)


def run(args):
    script = FOLDER / BENCHMARKS[args.name]
    if not script.is_file():
        print(
            f"error: {script} not found. The benchmarks ship with the source repository: clone it and "
            f"`pip install -e .`, or run `python benchmarks/{BENCHMARKS[args.name]}` there.",
            file=sys.stderr,
        )
        return 2
    sys.argv = [str(script)] + list(args.args)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return 0
