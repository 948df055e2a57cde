"""Inference latency and training-step time of GST and the baselines, Keras/TF vs the PyTorch original.

    keras-gst bench inference                        # the full plan (long: half an hour or more on 2 cores)
    keras-gst bench inference --quick                # batch 1: GST and C2D, and PyTorch; no training step
    keras-gst bench inference --quick --rounds 3     # the same, 3 interleaved rounds
    keras-gst bench inference --batches 8 --models gst c2d --no-train

Plan. --quick: batch 1, GST and C2D with Keras `tf.function`, `predict` and `frozen`; PyTorch GST eager and
torch.compile. Full: batches 1 and 8 (--batches) of GST, C2D, GST-Large, C3D and P3D (--models) with those
Keras modes, GST also with XLA (`jit_compile`) and bf16 (`dtype="mixed_bfloat16"`, under tf.function) at batch
1; PyTorch GST eager and torch.compile at each batch, bf16 (autocast + torch.compile) at batch 1; the training
step of GST at batch 8 (Keras `train_on_batch` vs PyTorch eager). Keras modes: `tf.function` =
model(x, training=False) in a tf.function, `predict` = model.predict(x, batch_size=B) (what users run),
`frozen` = keras_gst.export.frozen_function (weights as graph constants). torch.compile uses inductor freezing.

Every configuration runs in its own subprocess (so its peak RSS is its own) with the same thread count (OMP,
MKL and OpenBLAS set before import; TF intra-op; torch), and everything is measured in one run: compare ratios
within a run, never across machines or days. With `--rounds N` the whole plan runs N times round-robin and each
row reports the median over the rounds, so a slow spell of a shared machine hits every configuration alike.

Reported: median ms per clip over repeats (after warm-up), achieved GFLOP/s = 2 x MACs / time, and its share
of the fp32 peak measured in the same run (the best of SGEMMs 2048, 3072, 4096 with TF, NumPy and torch);
the theoretical peak (cores x fp32 flop/cycle x clock, from /proc/cpuinfo) is printed beside it, named with the
clock it assumes, only when it is not below the measured one. Then the
ratios, each named with its target and marked met/missed: every model over C2D per Keras mode (target: its
MAC ratio; 0.89 for GST), Keras GST over torch.compile, GST frozen's share of both peaks, bf16 over fp32 and
over PyTorch bf16, the training step over PyTorch's. Prints a table and writes JSON (default
bench_inference.json; the repository keeps its runs in benchmarks/results/). The PyTorch rows use the
independent reimplementation of the authors' model in keras_gst.benchmarks.torch_reference (only when torch
is installed: pip install "keras-gst[torch]").
"""

import argparse
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

from keras_gst.benchmarks import peak as peaks
from keras_gst.benchmarks import report
from keras_gst.benchmarks.workers import MODELS, median_result, spawn

QUICK_MODELS = ("gst", "c2d")
TRAIN_BATCH = 8


def plan(args):
    """The configurations of one round, in the order they run."""
    base = dict(frames=args.frames, size=args.size, threads=args.threads, repeats=args.repeats)
    torch_base = dict(base, framework="torch", model="gst")
    configs = []
    for batch in args.batches:
        for model in args.models:
            modes = list(report.C2D_MODES)
            if model == "gst" and batch == 1 and not args.quick:
                modes += ["xla", "bf16"]
            configs += [dict(base, framework="keras", model=model, mode=mode, batch=batch) for mode in modes]
        if args.torch and "gst" in args.models:
            modes = ["eager"]
            if args.torch_compile:
                modes += ["compile"] + (["bf16"] if batch == 1 and not args.quick else [])
            configs += [dict(torch_base, mode=mode, batch=batch) for mode in modes]
    if args.train and "gst" in args.models:
        configs.append(dict(base, framework="keras", model="gst", mode="train", batch=TRAIN_BATCH))
        if args.torch:
            configs.append(dict(torch_base, mode="train", batch=TRAIN_BATCH))
    return configs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gst bench inference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="batch 1: GST and C2D (tf.function, predict, frozen) and PyTorch; no training step")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default: 1 and 8; 1 with --quick)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS),
                        help=f"models (default: {' '.join(MODELS)}; {' '.join(QUICK_MODELS)} with --quick)")
    parser.add_argument("--rounds", type=int, default=1, help="run the plan this many times, interleaved; report medians")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="skip the PyTorch rows")
    parser.add_argument("--no-torch-compile", dest="torch_compile", action="store_false",
                        help="skip the torch.compile rows (fp32 and bf16)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip training-step timing")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per configuration")
    parser.add_argument("--out", default="bench_inference.json", help="JSON to write (default bench_inference.json)")
    args = parser.parse_args(argv)
    args.batches = args.batches or ([1] if args.quick else [1, 8])
    args.models = args.models or list(QUICK_MODELS if args.quick else MODELS)
    if args.quick:
        args.train = False
    return args


def _check_torch(args):
    if not args.torch:
        return
    if importlib.util.find_spec("torch") is None:  # the workers import it; this process need not
        print("torch not installed: PyTorch rows skipped (pip install \"keras-gst[torch]\")")
        args.torch = False


def _print_peaks(args, measured, theoretical):
    """The measured peak (the reference of every %peak); the theoretical one only when it is not below it."""
    sizes = "/".join(str(n) for n in peaks.SGEMM_SIZES)
    if "gflops" in measured:
        print(f"fp32 peak (the reference), measured: best SGEMM of n = {sizes} with tf/numpy/torch, {args.threads} "
              f"threads: {measured['gflops']:.1f} GFLOP/s ({measured['backend']}, n = {measured['n']})")
    else:
        print(f"fp32 peak, measured: failed ({measured.get('error')})")
    if theoretical is None:
        print("fp32 peak, theoretical: unknown (no /proc/cpuinfo, or no FMA/AVX2 flags)")
    elif peaks.reference_theoretical(theoretical, measured.get("gflops")):
        print(f"fp32 peak, theoretical: {theoretical['formula']} (assumes the clock {theoretical['ghz']:.2f} GHz: "
              f"{theoretical['clock_source']})")
    else:
        print(f"fp32 peak, theoretical: not shown: at the clock it can read ({theoretical['ghz']:.2f} GHz, "
              f"{theoretical['clock_source']}) it is below the measured peak, so the cores run faster than that")


def main(argv=None):
    args = parse_args(argv)
    _check_torch(args)
    configs = plan(args)
    cpuinfo = peaks.read_text(peaks.CPUINFO) or ""  # none outside Linux: no theoretical peak, no flags
    bf16 = peaks.bf16_support(peaks.cpu_flags(cpuinfo))
    measured = spawn(dict(framework="matmul", threads=args.threads, repeats=args.repeats), args.timeout)
    theoretical = peaks.theoretical_peak(cpuinfo, args.threads, os.cpu_count() or 1, peaks.read_text(peaks.MAX_FREQ))
    peak_gflops = measured.get("gflops")
    _print_peaks(args, measured, theoretical)
    if any(cfg["mode"] == "bf16" for cfg in configs) and not any(bf16.values()):
        print("note: the CPU flags list neither avx512_bf16 nor amx_bf16: bf16 runs emulated/converted to fp32 "
              "here (slow), so the bf16 rows measure that conversion")
    print(report.HEADER)
    print("-" * len(report.HEADER))
    runs = [[] for _ in configs]
    for round_index in range(args.rounds):
        if args.rounds > 1:
            print(f"round {round_index + 1} of {args.rounds} ...", flush=True)
        for cfg, cfg_runs in zip(configs, runs):
            cfg_runs.append(spawn(cfg, args.timeout))
    rows = report.make_rows(configs, [median_result(r) for r in runs], peak_gflops)
    for row in rows:
        print(report.format_row(row), flush=True)
    usable = peaks.reference_theoretical(theoretical, peak_gflops)
    ratios = report.compute_ratios(rows, peak_gflops, usable and usable["gflops"])
    print()
    for name, value in ratios.items():
        print(report.format_ratio(name, value))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "processor": peaks.cpu_name(cpuinfo), "threads": args.threads,
               "cpu_count": os.cpu_count()}
    out.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "machine": machine, "cpu_bf16": bf16,
        "matmul_peak_gflops": peak_gflops, "matmul_peak": measured, "theoretical_peak": theoretical,
        "rounds": args.rounds, "rows": rows, "ratios": ratios,
    }, indent=2))
    print(f"wrote {out}")
    return 0
