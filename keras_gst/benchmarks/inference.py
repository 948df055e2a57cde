"""Inference latency and training-step time of GST and the baselines, Keras/TF vs the PyTorch original.

    keras-gst bench inference                        # the full plan (long: half an hour or more on 2 cores)
    keras-gst bench inference --quick                # batch 1: GST and C2D, and PyTorch; no training step
    keras-gst bench inference --quick --rounds 3     # the same, 3 interleaved rounds
    keras-gst bench inference --batches 8 --models gst c2d --no-train
    keras-gst bench inference --quick --groups bf16 int8 onnx   # batch 1: only the bf16, int8 and ONNX rows

Plan. --quick: batch 1, GST and C2D, the fp32 group: Keras `tf.function`, `predict` and `frozen`; PyTorch GST
eager and torch.compile. Full: batches 1 and 8 (--batches) of GST, C2D, GST-Large, C3D and P3D (--models) and
every group (--groups): fp32 as above at each batch; at batch 1, GST with XLA (`jit_compile`), bf16 (Keras
`dtype="mixed_bfloat16"` on the frozen graph vs PyTorch autocast bf16 + torch.compile, each with its relative
logit error against its own fp32 model), ONNX Runtime fp32 (the Keras model's ONNX export), int8 (the all-int8
TFLite file vs PyTorch PT2E + X86InductorQuantizer + torch.compile and ONNX Runtime static int8 QDQ, each with
its top-1 agreement with its fp32 model: keras_gst.benchmarks.quantized); the training step of GST at batch 8
(Keras `train_on_batch` vs PyTorch eager and torch.compile). Keras modes: `tf.function` = model(x,
training=False) in a tf.function, `predict` = model.predict(x, batch_size=B) (what users run), `frozen` =
keras_gst.export.frozen_function (weights as graph constants). torch.compile uses inductor freezing.

Every configuration runs in its own subprocess (so its peak RSS is its own) with the same thread count (OMP,
MKL and OpenBLAS set before import; TF intra-op; torch), and everything is measured in one run: compare ratios
within a run, never across machines or days. With `--rounds N` the whole plan runs N times round-robin and each
row reports the median over the rounds, so a slow spell of a shared machine hits every configuration alike.

Reported: median ms per clip over repeats (after warm-up), achieved GFLOP/s = 2 x MACs / time, and its share
of the fp32 peak measured in the same run (the best of SGEMMs 2048, 3072, 4096 with TF, NumPy and torch);
the theoretical peak (cores x fp32 flop/cycle x clock, from /proc/cpuinfo) is printed beside it, named with the
clock it assumes, only when it is not below the measured one. Then the
ratios, each named with its target and marked met/missed: every model over C2D per Keras mode (target: its
MAC ratio; 0.89 for GST), Keras GST over torch.compile, GST frozen's share of both peaks, bf16 over fp32 frozen
and over PyTorch bf16, Keras frozen over ONNX Runtime, TFLite int8 over PyTorch's and ONNX Runtime's int8, the
training step over PyTorch's (eager and compiled). Prints a table and writes JSON (default
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
GROUPS = {  # group -> what it adds (batch-1 groups: GST at batch 1 only)
    "fp32": "Keras tf.function / predict / frozen of every model and batch; PyTorch GST eager and torch.compile",
    "xla": "Keras GST with jit_compile (batch 1)",
    "bf16": "Keras mixed_bfloat16 on the frozen graph vs PyTorch autocast bf16 + torch.compile (batch 1)",
    "onnx": "ONNX Runtime fp32 on the Keras model's ONNX export (batch 1; needs keras-gst[onnx])",
    "int8": "all-int8 TFLite vs PyTorch PT2E x86 int8 + torch.compile and ONNX Runtime static int8 QDQ (batch 1)",
    "train": f"training step at batch {TRAIN_BATCH}: Keras train_on_batch vs PyTorch eager and torch.compile",
}


def plan(args):
    """The configurations of one round, in the order they run."""
    base = dict(frames=args.frames, size=args.size, threads=args.threads, repeats=args.repeats)
    keras, torch = dict(base, framework="keras", model="gst"), dict(base, framework="torch", model="gst")
    groups, gst, compiled = set(args.groups), "gst" in args.models, args.torch and args.torch_compile
    configs = []
    for batch in args.batches:
        if "fp32" in groups:
            configs += [dict(base, framework="keras", model=model, mode=mode, batch=batch)
                        for model in args.models for mode in report.C2D_MODES]
            if args.torch and gst:
                configs += [dict(torch, mode=mode, batch=batch) for mode in ["eager"] + ["compile"] * compiled]
        if batch != 1 or not gst:
            continue
        if "xla" in groups:
            configs.append(dict(keras, mode="xla", batch=1))
        if "bf16" in groups:
            configs += [dict(keras, mode="bf16", batch=1)] + [dict(torch, mode="bf16", batch=1)] * compiled
        if "onnx" in groups and args.onnx:
            configs.append(dict(base, framework="onnxruntime", model="gst", mode="fp32", batch=1))
        if "int8" in groups:
            configs += [dict(base, framework="tflite", model="gst", mode="int8", batch=1)]
            configs += [dict(base, framework="onnxruntime", model="gst", mode="int8", batch=1)] * args.onnx
            configs += [dict(torch, mode="int8", batch=1)] * (compiled and args.torchao)
    if "train" in groups and gst:
        configs.append(dict(keras, mode="train", batch=TRAIN_BATCH))
        if args.torch:
            configs += [dict(torch, mode=mode, batch=TRAIN_BATCH) for mode in ["train"] + ["train_compile"] * compiled]
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
                        help="skip the torch.compile rows (fp32, bf16, int8, training)")
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS),
                        help="which rows (default: all; fp32 with --quick): "
                        + "; ".join(f"{name}: {text}" for name, text in GROUPS.items()))
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip the train group")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per configuration")
    parser.add_argument("--out", default="bench_inference.json", help="JSON to write (default bench_inference.json)")
    args = parser.parse_args(argv)
    args.batches = args.batches or ([1] if args.quick else [1, 8])
    args.models = args.models or list(QUICK_MODELS if args.quick else MODELS)
    args.groups = args.groups or (["fp32"] if args.quick else list(GROUPS))
    if not args.train:
        args.groups = [g for g in args.groups if g != "train"]
    args.onnx = args.torchao = True  # until _check_packages finds them missing
    return args


def _check_packages(args):
    """Turn off the rows whose packages are missing, saying so (the workers import them; this process need not)."""
    def missing(*names):
        return [name for name in names if importlib.util.find_spec(name) is None]

    if args.torch and missing("torch"):
        print("torch not installed: PyTorch rows skipped (pip install \"keras-gst[torch]\")")
        args.torch = False
    if "int8" in args.groups and args.torch and missing("torchao"):
        print("torchao not installed: the PyTorch int8 row skipped (pip install \"keras-gst[torch]\")")
        args.torchao = False
    if {"onnx", "int8"} & set(args.groups) and missing("tf2onnx", "onnxruntime"):
        print("tf2onnx / onnxruntime not installed: ONNX Runtime rows skipped (pip install \"keras-gst[onnx]\")")
        args.onnx = False


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
    _check_packages(args)
    configs = plan(args)
    cpuinfo = peaks.read_text(peaks.CPUINFO) or ""  # none outside Linux: no theoretical peak, no flags
    bf16 = peaks.bf16_support(peaks.cpu_flags(cpuinfo))
    print(peaks.describe_bf16(bf16))
    measured = spawn(dict(framework="matmul", threads=args.threads, repeats=args.repeats), args.timeout)
    theoretical = peaks.theoretical_peak(cpuinfo, args.threads, os.cpu_count() or 1, peaks.read_text(peaks.MAX_FREQ))
    peak_gflops = measured.get("gflops")
    _print_peaks(args, measured, theoretical)
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
