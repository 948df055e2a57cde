"""Inference latency and training-step time of GST and the baselines, Keras/TF vs the PyTorch original.

    keras-gst bench inference                  # the full table (several minutes on 2 cores)
    keras-gst bench inference --quick          # GST, C2D and PyTorch, batch 1 only
    keras-gst bench inference --quick --rounds 3   # the same, 3 interleaved rounds

Every configuration runs in its own subprocess (so its peak RSS is its own) with the same thread count, and
everything is measured in one run: compare ratios within a run, never across machines or days. With
`--rounds N` the whole plan runs N times round-robin and each row reports the median over the rounds, so a
slow spell of a shared machine hits every configuration alike. Prints a table
and writes JSON (default bench_inference.json; the repository keeps its runs in benchmarks/results/). Reported: median ms per clip over repeats
(after warm-up), achieved GFLOP/s = 2 x MACs / time, and its share of the fp32 matmul peak measured in the
same run. The PyTorch rows use the independent reimplementation of the authors' model in tests/torch_gst.py of
a source checkout (--torch-reference; only when torch is installed: pip install "keras-gst[torch]").
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# tests/torch_gst.py of a source checkout (an installed package has no tests/)
TORCH_REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "torch_gst.py"
MODELS = {
    "gst": dict(block="gst", alpha=0.25, beta=0.5),
    "c2d": dict(block="c2d"),
    "gst_large": dict(block="gst", alpha=0.25, beta=1.0),
    "c3d": dict(block="c3d"),
    "p3d": dict(block="p3d"),
}


def _threads(n):
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_keras(cfg):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_gst import count_macs
    from keras_gst.applications import build_classifier

    t, s, b = cfg["frames"], cfg["size"], cfg["batch"]
    model = build_classifier(50, 174, num_frames=t, input_shape=(s, s, 3), **MODELS[cfg["model"]])
    macs = count_macs(model, (t, s, s, 3))
    x = tf.constant(np.random.default_rng(0).random((b, t, s, s, 3), dtype=np.float32))
    if cfg["mode"] == "train":
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        y = np.zeros((b,), "int32")
        seconds = _time(lambda: model.train_on_batch(x, y), cfg["repeats"])
    elif cfg["mode"] == "predict_on_batch":
        seconds = _time(lambda: model.predict_on_batch(x), cfg["repeats"])
    elif cfg["mode"] == "frozen":  # weights as graph constants (keras_gst.export.frozen_function)
        from keras_gst.export import frozen_function

        fn = frozen_function(model, x.shape)
        seconds = _time(lambda: fn(x).numpy(), cfg["repeats"])
    else:
        fn = tf.function(lambda v: model(v, training=False), jit_compile=cfg["mode"] == "xla")
        seconds = _time(lambda: fn(x).numpy(), cfg["repeats"])
    return {"seconds": seconds, "macs": macs}


def worker_torch(cfg):
    import torch

    torch.set_num_threads(cfg["threads"])
    sys.path.insert(0, str(Path(cfg["torch_reference"]).parent))
    from torch_gst import TemporalModel

    t, s, b = cfg["frames"], cfg["size"], cfg["batch"]
    spec = MODELS[cfg["model"]]
    model = TemporalModel(174, t, depth=50, alpha=spec["alpha"], beta=spec["beta"])
    x = torch.rand(b, t * 3, s, s)  # the authors feed (N, T*3, H, W)
    if cfg["mode"] == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        y = torch.zeros(b, dtype=torch.long)
        model.train()

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        return {"seconds": _time(step, cfg["repeats"])}
    model.eval()
    if cfg["mode"] == "compile":
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # weights as constants: what makes inductor fast on CPU
        model = torch.compile(model)
    with torch.no_grad():
        seconds = _time(lambda: model(x), cfg["repeats"], warmup=3 if cfg["mode"] == "compile" else 2)
    return {"seconds": seconds}


def worker_matmul(cfg):
    """fp32 matmul peak (GFLOP/s) with the same thread count: the best of TF and (if present) torch."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    n = 2048
    a = tf.constant(np.random.default_rng(0).random((n, n), dtype=np.float32))
    mm = tf.function(lambda u: tf.matmul(u, u))
    best = 2 * n**3 / _time(lambda: mm(a).numpy(), cfg["repeats"])
    try:
        import torch

        torch.set_num_threads(cfg["threads"])
        ta = torch.rand(n, n)
        best = max(best, 2 * n**3 / _time(lambda: torch.mm(ta, ta), cfg["repeats"]))
    except ImportError:
        pass
    return {"gflops": best / 1e9}


def run_worker(cfg):
    _threads(cfg["threads"])
    fn = {"keras": worker_keras, "torch": worker_torch, "matmul": worker_matmul}[cfg["framework"]]
    result = fn(cfg)
    result["peak_rss_mb"] = _peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)


def spawn(cfg, timeout):
    cmd = [sys.executable, "-m", "keras_gst.benchmarks.inference", "--worker", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {proc.returncode}"}


def _median_result(results):
    """One configuration's rounds -> one result: the median time (all rounds kept), the largest RSS."""
    ok = [r for r in results if "seconds" in r]
    if not ok:
        return results[0]
    result = dict(ok[0])
    result["seconds"] = statistics.median(r["seconds"] for r in ok)
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    if len(results) > 1:
        result["seconds_per_round"] = [r.get("seconds") for r in results]
    return result


def plan(args):
    base = dict(frames=args.frames, size=args.size, threads=args.threads, repeats=args.repeats)
    models = ["gst", "c2d"] if args.quick else list(MODELS)
    batches = [1] if args.quick else [1, 8]
    configs = []
    for batch in batches:
        for model in models:
            modes = ["tf.function", "frozen"]
            if model == "gst" and batch == 1 and not args.quick:
                modes = ["predict_on_batch"] + modes + ["xla"]
            for mode in modes:
                configs.append(dict(base, framework="keras", model=model, mode=mode, batch=batch))
        if args.torch:
            for mode in ["eager"] + (["compile"] if args.torch_compile else []):
                configs.append(dict(base, framework="torch", model="gst", mode=mode, batch=batch,
                                    torch_reference=str(args.torch_reference)))
    if args.train:
        for size in (args.size, args.size // 2):
            for framework in ["keras"] + (["torch"] if args.torch else []):
                configs.append(dict(base, framework=framework, model="gst", mode="train", batch=2, size=size,
                                    torch_reference=str(args.torch_reference)))
    return configs


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gst bench inference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="batch 1 only: GST and C2D (tf.function, frozen) and PyTorch; no training step")
    parser.add_argument("--rounds", type=int, default=1, help="run the plan this many times, interleaved; report medians")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="skip the PyTorch rows")
    parser.add_argument("--no-torch-compile", dest="torch_compile", action="store_false")
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip training-step timing")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per configuration")
    parser.add_argument("--torch-reference", type=Path, default=TORCH_REFERENCE,
                        help="tests/torch_gst.py of a source checkout (default: beside this package, if there)")
    parser.add_argument("--out", default="bench_inference.json", help="JSON to write (default bench_inference.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(json.loads(args.worker))
    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch not installed: PyTorch rows skipped (pip install \"keras-gst[torch]\")")
            args.torch = False
    if args.torch and not args.torch_reference.is_file():
        print(f"{args.torch_reference} not found: PyTorch rows skipped (pass --torch-reference "
              "PATH/tests/torch_gst.py of a source checkout)")
        args.torch = False
    if args.quick:
        args.train = False

    peak = spawn(dict(framework="matmul", threads=args.threads, repeats=args.repeats), args.timeout)
    peak_gflops = peak.get("gflops")
    rows = []
    print(f"fp32 matmul peak, {args.threads} threads: {peak_gflops or float('nan'):.1f} GFLOP/s")
    header = f"{'framework':9} {'model':10} {'mode':17} {'batch':>5} {'size':>5} {'ms/clip':>9} {'GFLOP/s':>8} {'%peak':>6} {'RSS MB':>7}"
    print(header)
    print("-" * len(header))
    macs_by_model = {}
    configs = plan(args)
    runs = [[] for _ in configs]
    for round_index in range(args.rounds):
        if args.rounds > 1:
            print(f"round {round_index + 1} of {args.rounds} ...", flush=True)
        for cfg, cfg_runs in zip(configs, runs):
            cfg_runs.append(spawn(cfg, args.timeout))
    for cfg, cfg_runs in zip(configs, runs):
        result = _median_result(cfg_runs)
        row = dict(cfg, **result)
        if "seconds" in result:
            row["ms_per_clip"] = 1000 * result["seconds"] / cfg["batch"]
            if "macs" in result:
                macs_by_model[(cfg["model"], cfg["size"])] = result["macs"]
            macs = macs_by_model.get((cfg["model"], cfg["size"]))
            if macs and cfg["mode"] != "train":
                row["gflops"] = 2 * macs / (row["ms_per_clip"] / 1000) / 1e9
                if peak_gflops:
                    row["peak_share"] = row["gflops"] / peak_gflops
        rows.append(row)
        print(
            f"{cfg['framework']:9} {cfg['model']:10} {cfg['mode']:17} {cfg['batch']:>5} {cfg['size']:>5} "
            + (f"{row['ms_per_clip']:>9.1f} " if "ms_per_clip" in row else f"{'ERROR':>9} ")
            + (f"{row['gflops']:>8.1f} {100 * row.get('peak_share', float('nan')):>5.0f}% " if "gflops" in row else f"{'':>8} {'':>6} ")
            + (f"{row['peak_rss_mb']:>7.0f}" if "peak_rss_mb" in row else row.get("error", "")),
            flush=True,
        )

    def ms(framework, model, mode, batch=1, size=args.size):
        for r in rows:
            if (r["framework"], r["model"], r["mode"], r["batch"], r["size"]) == (framework, model, mode, batch, size):
                return r.get("ms_per_clip")
        return None

    ratios = {}
    for mode in ("tf.function", "frozen"):
        gst, c2d = ms("keras", "gst", mode), ms("keras", "c2d", mode)
        if gst and c2d:
            ratios[f"gst_over_c2d, {mode} (target <= 0.89)"] = gst / c2d
    keras_modes = {mode: ms("keras", "gst", mode) for mode in ("predict_on_batch", "tf.function", "frozen", "xla")}
    keras_modes = {mode: v for mode, v in keras_modes.items() if v}
    gst = min(keras_modes.values()) if keras_modes else None
    best_mode = min(keras_modes, key=keras_modes.get) if keras_modes else None
    torch_best = [v for v in (ms("torch", "gst", "eager"), ms("torch", "gst", "compile")) if v]
    if gst and torch_best:
        ratios[f"keras_gst ({best_mode})_over_best_torch (target <= 1.0)"] = gst / min(torch_best)
    train_keras, train_torch = ms("keras", "gst", "train", batch=2), ms("torch", "gst", "train", batch=2)
    if train_keras and train_torch:
        ratios["train_step_keras_over_torch_eager (target <= 1.0)"] = train_keras / train_torch
    if gst and peak_gflops:
        ratios[f"gst ({best_mode})_share_of_matmul_peak (target >= 0.85)"] = 2 * macs_by_model[("gst", args.size)] / (gst / 1000) / 1e9 / peak_gflops
    print()
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "processor": _cpu_name(), "threads": args.threads}
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine, "matmul_peak_gflops": peak_gflops,
                               "rounds": args.rounds, "rows": rows, "ratios": ratios}, indent=2))
    print(f"wrote {out}")
    return 0


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
