"""The inference benchmark's workers: one configuration per subprocess (`spawn`), so its peak RSS is its own.

    python -m keras_gst.benchmarks.workers '{"framework": "keras", "model": "gst", "mode": "frozen", ...}'

prints `RESULT {json}` (seconds per call, MACs for Keras rows, peak RSS in MB). The thread count is set in
the environment (OMP/MKL/OpenBLAS) before Python starts, and in TF (intra-op) and torch.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

MODELS = {
    "gst": dict(block="gst", alpha=0.25, beta=0.5),
    "c2d": dict(block="c2d"),
    "gst_large": dict(block="gst", alpha=0.25, beta=1.0),
    "c3d": dict(block="c3d"),
    "p3d": dict(block="p3d"),
}
KERAS_MODES = ("tf.function", "predict", "frozen", "xla", "bf16", "train")
TORCH_MODES = ("eager", "compile", "bf16", "train", "train_compile")


def call_seconds(fn, repeats, warmup=2):
    """Seconds of each of `repeats` calls of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def timed(fn, repeats, warmup=2, best=False):
    """Seconds per call of `fn` after `warmup` calls: the median of `repeats` calls (the fastest if `best`)."""
    times = call_seconds(fn, repeats, warmup)
    return min(times) if best else statistics.median(times)


def trained_batchnorm(channels, rng):
    """BatchNorm (gamma, beta, mean, variance) over `channels` like a trained network's, in place of the fresh
    init (1, 0, 0, 1): with zero shifts the folded biases are zeros that TF's constant folding deletes from a
    frozen graph, which a real model never gets. The same distribution (and seed) for the Keras and the PyTorch
    model."""
    return (rng.uniform(0.5, 1.5, channels), rng.normal(0.0, 0.1, channels), rng.normal(0.0, 0.1, channels),
            rng.uniform(0.5, 1.5, channels))


def keras_model(cfg, dtype=None, temporal_impl="conv3d"):
    """The benchmark's Keras model of cfg (seeded weights, trained-like BatchNorm) and its MACs per clip."""
    import keras
    import numpy as np

    from keras_gst import count_macs
    from keras_gst.applications import build_classifier
    from keras_gst.private_api import flatten_layers

    t, s = cfg["frames"], cfg["size"]
    keras.utils.set_random_seed(0)
    model = build_classifier(50, 174, num_frames=t, input_shape=(s, s, 3), dtype=dtype, temporal_impl=temporal_impl,
                             preprocessor=False, **MODELS[cfg["model"]])  # the bare network on normalised frames
    rng = np.random.default_rng(1)
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            variables = (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)
            for v, value in zip(variables, trained_batchnorm(layer.gamma.shape[0], rng)):
                v.assign(value.astype("float32"))
    return model, count_macs(model, (t, s, s, 3))


def logit_error(reference, candidate):
    """max |candidate - reference| / max |reference| and top-1 agreement, as a dict."""
    import numpy as np

    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    return {"logit_rel_diff": float(np.abs(candidate - reference).max() / np.abs(reference).max()),
            "top1_agreement": float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))}


def worker_keras(cfg):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    t, s, b, mode = cfg["frames"], cfg["size"], cfg["batch"], cfg["mode"]
    model, macs = keras_model(cfg)
    x_np = np.random.default_rng(0).random((b, t, s, s, 3), dtype=np.float32)
    x = tf.constant(x_np)
    if mode == "bf16":  # mixed_bfloat16 on the folded (frozen) graph, against the fp32 model's logits
        from keras_gst.export import frozen_function

        bf16, _ = keras_model(cfg, dtype="mixed_bfloat16")
        bf16.set_weights(model.get_weights())
        fn = frozen_function(bf16, x.shape)
        error = logit_error(model(x, training=False), fn(x))
        return {"seconds": timed(lambda: fn(x).numpy(), cfg["repeats"]), "macs": macs, **error}
    if mode == "train":
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        y = np.zeros((b,), "int32")
        call = lambda: model.train_on_batch(x, y)  # noqa: E731
    elif mode == "predict":  # what users run
        call = lambda: model.predict(x_np, batch_size=b, verbose=0)  # noqa: E731
    elif mode == "frozen":  # weights as graph constants
        from keras_gst.export import frozen_function

        fn = frozen_function(model, x.shape)
        call = lambda: fn(x).numpy()  # noqa: E731
    elif mode in ("tf.function", "xla"):
        fn = tf.function(lambda v: model(v, training=False), jit_compile=mode == "xla")
        call = lambda: fn(x).numpy()  # noqa: E731
    else:
        raise ValueError(f"unknown Keras mode {mode!r}; one of {KERAS_MODES}")
    return {"seconds": timed(call, cfg["repeats"]), "macs": macs}


def torch_model(cfg):
    """The benchmark's PyTorch model of cfg (the authors' GST, seeded init, trained-like BatchNorm)."""
    import numpy as np
    import torch

    from keras_gst.benchmarks.torch_reference import TemporalModel

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    spec = MODELS[cfg["model"]]
    model = TemporalModel(174, cfg["frames"], depth=50, alpha=spec["alpha"], beta=spec["beta"])
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                tensors = (module.weight, module.bias, module.running_mean, module.running_var)
                for v, value in zip(tensors, trained_batchnorm(module.num_features, rng)):
                    v.copy_(torch.from_numpy(value))
    return model


def worker_torch(cfg):
    import torch

    t, s, b, mode = cfg["frames"], cfg["size"], cfg["batch"], cfg["mode"]
    model = torch_model(cfg)
    x = torch.rand(b, t * 3, s, s)  # the authors feed (N, T*3, H, W)
    if mode in ("train", "train_compile"):  # eager, or the model under torch.compile (inductor)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        y = torch.zeros(b, dtype=torch.long)
        model.train()
        forward = torch.compile(model) if mode == "train_compile" else model

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(forward(x), y).backward()
            opt.step()

        return {"seconds": timed(step, cfg["repeats"], warmup=3 if mode == "train_compile" else 2)}
    if mode not in TORCH_MODES:
        raise ValueError(f"unknown torch mode {mode!r}; one of {TORCH_MODES}")
    model.eval()
    result = {}
    if mode in ("compile", "bf16"):
        from keras_gst.private_api import frozen_torch_compile

        if mode == "bf16":
            with torch.no_grad():
                reference = model(x)
        model = frozen_torch_compile(model)  # weights as constants: what makes inductor fast on CPU
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16")
    with torch.no_grad(), autocast:
        result["seconds"] = timed(lambda: model(x), cfg["repeats"], warmup=2 if mode == "eager" else 3)
        if mode == "bf16":
            result.update(logit_error(reference.numpy(), model(x).float().numpy()))
    return result


def run_worker(cfg):
    from keras_gst.benchmarks import quantized
    from keras_gst.benchmarks.peak import measured_peak

    fn = {"keras": worker_keras, "torch": worker_torch, "matmul": measured_peak, "tflite": quantized.worker_tflite,
          "onnxruntime": quantized.worker_onnxruntime}[cfg["framework"]]
    if cfg["framework"] == "torch" and cfg["mode"] == "int8":
        fn = quantized.worker_torch_int8
    result = fn(cfg)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(result), flush=True)


def spawn(cfg, timeout):
    """Run one configuration in a fresh interpreter with cfg["threads"] threads; its result or {"error": ...}."""
    threads = str(cfg["threads"])
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cmd = [sys.executable, "-m", "keras_gst.benchmarks.workers", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {proc.returncode}"}


def median_result(results):
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


if __name__ == "__main__":
    run_worker(json.loads(sys.argv[1]))
