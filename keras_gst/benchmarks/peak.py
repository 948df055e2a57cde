"""The fp32 peak the inference benchmark compares against: measured (the best large SGEMM) and theoretical.

Measured: square fp32 matrix products of sizes `SGEMM_SIZES` with TF (`tf.matmul` in a tf.function), NumPy
(`a @ b`) and torch (`torch.mm`, when installed), each timed `repeats` times after a warm-up; the best
GFLOP/s (2 n^3 / the fastest call) of all of them. It runs in a worker subprocess whose OMP/MKL/OpenBLAS
thread counts are set before any import (`keras_gst.benchmarks.workers.spawn`).

Theoretical: cores x fp32 flop/cycle x clock, read from /proc/cpuinfo (Linux; None elsewhere): cores = the
benchmark's threads (at most os.cpu_count()); flop/cycle = 2 FMA units x fp32 lanes x 2 (an FMA is 2 flops),
16 lanes with AVX-512 except on AMD family 25 (Zen 3/4 execute AVX-512 as 2 x 256-bit FMA per cycle), 8 with
AVX2/FMA; clock = the largest `cpu MHz` line or cpufreq's cpuinfo_max_freq (the boost clock) when present.
The measured peak is the reference; the theoretical one is reported only when it is not below the measured one
(`reference_theoretical`): under a hypervisor /proc/cpuinfo often shows the nominal clock while the cores run
faster, and a "peak" below what an SGEMM reaches says nothing.
"""

import platform
from pathlib import Path

SGEMM_SIZES = (2048, 3072, 4096)
FMA_UNITS = 2
CPUINFO = Path("/proc/cpuinfo")
MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # kHz


def cpuinfo_processors(text):
    """The `key: value` fields of each processor block of a /proc/cpuinfo text, as a list of dicts."""
    processors = []
    for block in text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if fields:
            processors.append(fields)
    return processors


def read_text(path):
    """The text of `path`, or None when it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_name(cpuinfo_text=None):
    """The CPU's model name (/proc/cpuinfo by default; platform.processor() when there is none)."""
    text = cpuinfo_text if cpuinfo_text is not None else read_text(CPUINFO)
    for fields in cpuinfo_processors(text or ""):
        if "model name" in fields:
            return fields["model name"]
    return platform.processor()


def cpu_flags(cpuinfo_text):
    """The set of CPU flags of the first processor of a /proc/cpuinfo text."""
    processors = cpuinfo_processors(cpuinfo_text or "")
    return set(processors[0].get("flags", "").split()) if processors else set()


def bf16_support(flags):
    """Which native bf16 instructions the flags list: without either, bf16 math is converted to fp32 (slow)."""
    return {"avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags}


def describe_bf16(support):
    """One line on the CPU's native bf16 (a `bf16_support` dict), plain when there is none."""
    have = [name.upper() for name, present in support.items() if present]
    if have:
        return f"bf16: this CPU has {' and '.join(have)}: native bf16 dot products (the bf16 rows use them)"
    return ("bf16: this CPU has neither AVX512_BF16 nor AMX: bf16 is converted to and from fp32 here (slow); the "
            "bf16 rows measure that conversion, not bf16 hardware")


def theoretical_peak(cpuinfo_text, threads, cpu_count, max_freq_khz_text=None):
    """cores x fp32 flop/cycle x clock from a /proc/cpuinfo text (and cpuinfo_max_freq's text, in kHz).

    Returns a dict (gflops, cores, lanes, fma_units, flop_per_cycle, ghz, clock_source, formula), or None when
    the text has no clock or no FMA/AVX2 flags (the formula would not apply)."""
    processors = cpuinfo_processors(cpuinfo_text or "")
    if not processors:
        return None
    first = processors[0]
    flags = set(first.get("flags", "").split())
    amd_family_25 = first.get("vendor_id") == "AuthenticAMD" and first.get("cpu family") == "25"
    if "avx512f" in flags and not amd_family_25:
        lanes = 16
    elif flags & {"fma", "avx2"}:
        lanes = 8
    else:
        return None
    clocks = {float(p["cpu MHz"]): "max cpu MHz in /proc/cpuinfo" for p in processors if "cpu MHz" in p}
    if max_freq_khz_text and max_freq_khz_text.strip():
        clocks[float(max_freq_khz_text.strip()) / 1000] = "cpufreq cpuinfo_max_freq (boost)"
    if not clocks:
        return None
    mhz = max(clocks)
    cores = max(1, min(threads, cpu_count))
    flop_per_cycle = FMA_UNITS * lanes * 2
    ghz = mhz / 1000
    gflops = cores * flop_per_cycle * ghz
    formula = (f"{cores} cores x {flop_per_cycle} flop/cycle ({FMA_UNITS} FMA x {lanes} fp32 lanes x 2) "
               f"x {ghz:.2f} GHz = {gflops:.1f} GFLOP/s")
    return {"gflops": gflops, "cores": cores, "lanes": lanes, "fma_units": FMA_UNITS,
            "flop_per_cycle": flop_per_cycle, "ghz": ghz, "clock_source": clocks[mhz], "formula": formula}


def reference_theoretical(theoretical, measured_gflops):
    """`theoretical` (a `theoretical_peak` dict) when it is at least the measured peak (or nothing was measured),
    else None: a formula below a measured SGEMM assumed too low a clock."""
    if theoretical is None or (measured_gflops and theoretical["gflops"] < measured_gflops):
        return None
    return theoretical


def measured_peak(cfg):
    """Worker: the best fp32 SGEMM GFLOP/s over `SGEMM_SIZES` x (TF, NumPy, torch), with cfg["threads"]."""
    import numpy as np
    import tensorflow as tf

    from keras_gst.benchmarks.workers import timed

    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        import torch

        torch.set_num_threads(cfg["threads"])
    except ImportError:
        torch = None
    tf_mm = tf.function(tf.matmul)
    results = []
    rng = np.random.default_rng(0)
    for n in SGEMM_SIZES:
        a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
        calls = {"numpy": lambda: a @ b}
        ta, tb = tf.constant(a), tf.constant(b)
        calls["tf"] = lambda: tf_mm(ta, tb).numpy()
        if torch is not None:
            pa, pb = torch.from_numpy(a), torch.from_numpy(b)
            calls["torch"] = lambda: torch.mm(pa, pb)
        for backend, call in calls.items():
            seconds = timed(call, cfg["repeats"], warmup=1, best=True)
            results.append({"backend": backend, "n": n, "gflops": 2 * n**3 / seconds / 1e9})
    best = max(results, key=lambda r: r["gflops"])
    return {"gflops": best["gflops"], "backend": best["backend"], "n": best["n"], "results": results}
