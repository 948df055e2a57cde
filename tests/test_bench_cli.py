"""`keras-gst bench` runs the benchmarks of `keras_gst.benchmarks` (tiny settings here: no timing is asserted)."""

import json
import statistics

import pytest

from keras_gst.cli import main


@pytest.mark.large
def test_bench_inference_quick_writes_rows_and_ratios(tmp_path, capsys):
    out = tmp_path / "inference.json"
    code = main(["bench", "inference", "--quick", "--no-torch", "--frames", "2", "--size", "64",
                 "--repeats", "1", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    rows = {(r["model"], r["mode"]): r for r in result["rows"]}
    assert set(rows) == {(m, mode) for m in ("gst", "c2d") for mode in ("tf.function", "predict", "frozen")}
    for row in rows.values():
        assert row["ms_per_clip"] > 0 and row["peak_rss_mb"] > 100
        assert "seconds_per_round" not in row  # one round (the rounds: the test below)
    assert rows[("gst", "tf.function")]["macs"] < rows[("c2d", "tf.function")]["macs"]
    peak = result["matmul_peak"]
    assert result["matmul_peak_gflops"] == peak["gflops"] > 0
    assert {(r["backend"], r["n"]) for r in peak["results"]} >= {(b, n) for b in ("tf", "numpy") for n in (2048, 3072, 4096)}
    assert set(result["cpu_bf16"]) == {"avx512_bf16", "amx_bf16"}
    names = {f"gst_over_c2d, {mode}, batch 1 (target <= MAC ratio 0.89)" for mode in ("tf.function", "predict", "frozen")}
    assert names <= set(result["ratios"])
    frozen = rows[("gst", "frozen")]
    share = result["ratios"]["gst_frozen_share_of_measured_peak, batch 1 (target >= 0.85)"]
    assert share["value"] == pytest.approx(2 * frozen["macs"] / frozen["seconds"] / 1e9 / peak["gflops"])
    assert share["met"] == (share["value"] >= 0.85)
    printed = capsys.readouterr().out
    assert "fp32 peak (the reference), measured" in printed and "gst_over_c2d, frozen, batch 1" in printed


def test_rounds_run_the_whole_plan_in_turn_and_report_each_rows_median(tmp_path, monkeypatch):
    """--rounds 3: the plan runs three times round-robin (not each configuration three times in a row), and a
    row is the median of its rounds (a failed round is listed, not counted), with the largest RSS."""
    from keras_gst.benchmarks import inference

    calls = []
    seconds = {("gst", "frozen"): [0.3, 0.1, 0.2], ("c2d", "frozen"): [0.5, None, 0.4]}  # None: that round failed

    def fake_spawn(cfg, timeout):
        if cfg["framework"] == "matmul":
            return {"gflops": 100.0, "backend": "numpy", "n": 2048, "results": []}
        key = (cfg["model"], cfg["mode"])
        took = seconds.get(key, [0.1, 0.1, 0.1])[sum(call == key for call in calls)]
        calls.append(key)
        return {"error": "killed"} if took is None else {"seconds": took, "macs": 1e9, "peak_rss_mb": 100 * len(calls)}

    monkeypatch.setattr(inference, "spawn", fake_spawn)
    out = tmp_path / "rounds.json"
    assert inference.main(["--quick", "--no-torch", "--rounds", "3", "--out", str(out)]) == 0
    one_round = [(m, mode) for m in ("gst", "c2d") for mode in ("tf.function", "predict", "frozen")]
    assert calls == one_round * 3
    rows = {(r["model"], r["mode"]): r for r in json.loads(out.read_text())["rows"]}
    assert rows[("gst", "frozen")]["seconds"] == statistics.median([0.3, 0.1, 0.2]) == 0.2
    assert rows[("gst", "frozen")]["seconds_per_round"] == [0.3, 0.1, 0.2]
    assert rows[("gst", "frozen")]["peak_rss_mb"] == 100 * (2 * 6 + 3)  # its third run, the 15th call
    assert rows[("c2d", "frozen")]["seconds"] == statistics.median([0.5, 0.4])
    assert rows[("c2d", "frozen")]["seconds_per_round"] == [0.5, None, 0.4]


def test_bench_unknown_benchmark_is_rejected():
    with pytest.raises(SystemExit):
        main(["bench", "nonsense"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export"], "the following arguments are required: --data"),
        (["data"], "the following arguments are required: --data"),
        (["data", "--data", "{tmp}"], "--data {tmp}: 12 of the benchmark's files are missing"),
    ],
)
def test_bench_needs_real_data_from_the_user(argv, message, tmp_path, capsys):
    """No default data outside the repository: the benchmarks that read real clips require --data."""
    code = main(["bench"] + [a.format(tmp=tmp_path) for a in argv])
    assert code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err


def test_bench_data_on_the_repository_sample_files(real_data, tmp_path, capsys):
    out = tmp_path / "data.json"
    code = main(["bench", "data", "--data", str(real_data), "--model-clips-per-s", "2", "--batches", "1", "--warmup",
                 "0", "--frames", "2", "--size", "32", "--batch-size", "2", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert [row["source"].split(",")[0] for row in result["pipeline"]] == ["videos", "videos", "frame folders"]
    assert all(row["ratio_to_model"] == row["clips_per_s"] / 2 for row in result["pipeline"])
    assert "wrote" in capsys.readouterr().out


EPYC_MILAN = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
cpu MHz\t\t: 2445.406
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
cpu MHz\t\t: 2445.406
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2
"""


def _intel(flags="fma avx2 avx512f avx512dq avx512_bf16", mhz=("2900.000", "3100.000")):
    return "\n\n".join(f"processor\t: {i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 106\n"
                       f"model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\ncpu MHz\t\t: {m}\n"
                       f"flags\t\t: fpu sse2 {flags}" for i, m in enumerate(mhz)) + "\n"


def test_theoretical_peak_of_an_amd_epyc_with_avx2():
    from keras_gst.benchmarks.peak import cpu_name, theoretical_peak

    peak = theoretical_peak(EPYC_MILAN, threads=2, cpu_count=2)
    assert peak["gflops"] == pytest.approx(156.505984)  # 2 cores x (2 FMA x 8 lanes x 2) x 2.445406 GHz
    assert (peak["cores"], peak["lanes"], peak["flop_per_cycle"]) == (2, 8, 32)
    assert peak["formula"] == "2 cores x 32 flop/cycle (2 FMA x 8 fp32 lanes x 2) x 2.45 GHz = 156.5 GFLOP/s"
    assert theoretical_peak(EPYC_MILAN, threads=8, cpu_count=2)["cores"] == 2  # at most the CPUs there are
    assert theoretical_peak(EPYC_MILAN, threads=1, cpu_count=2)["gflops"] == pytest.approx(78.252992)
    assert cpu_name(EPYC_MILAN) == "AMD EPYC"


def test_theoretical_peak_with_avx512_and_the_boost_clock():
    from keras_gst.benchmarks.peak import theoretical_peak

    peak = theoretical_peak(_intel(), threads=4, cpu_count=8)
    assert (peak["lanes"], peak["flop_per_cycle"]) == (16, 64)
    assert peak["gflops"] == pytest.approx(4 * 64 * 3.1)  # the fastest `cpu MHz` line
    boosted = theoretical_peak(_intel(), threads=4, cpu_count=8, max_freq_khz_text="3500000\n")
    assert boosted["gflops"] == pytest.approx(896.0) and "cpuinfo_max_freq" in boosted["clock_source"]
    # AMD family 25 (Zen 4) runs AVX-512 as 2 x 256-bit: 8 lanes even with avx512f
    zen4 = EPYC_MILAN.replace("avx2 bmi2", "avx2 avx512f bmi2")
    assert theoretical_peak(zen4, threads=2, cpu_count=2)["lanes"] == 8
    assert theoretical_peak(_intel(flags="sse4_2"), threads=1, cpu_count=1) is None  # no FMA: formula n/a
    assert theoretical_peak("", threads=1, cpu_count=1) is None  # no /proc/cpuinfo (not Linux)


def test_bf16_flags():
    from keras_gst.benchmarks.peak import bf16_support, cpu_flags

    assert bf16_support(cpu_flags(EPYC_MILAN)) == {"avx512_bf16": False, "amx_bf16": False}
    assert bf16_support(cpu_flags(_intel())) == {"avx512_bf16": True, "amx_bf16": False}


def _rows():
    """Synthetic worker results (seconds per call) and the MACs of the Keras rows."""
    from keras_gst.benchmarks.report import make_rows

    table = [  # framework, model, mode, batch, seconds, macs
        ("keras", "gst", "tf.function", 1, 0.080, 90e9), ("keras", "c2d", "tf.function", 1, 0.100, 100e9),
        ("keras", "gst", "frozen", 1, 0.090, 90e9), ("keras", "c2d", "frozen", 1, 0.100, 100e9),
        ("keras", "c3d", "frozen", 1, 0.200, 190e9),
        ("keras", "gst", "bf16", 1, 0.060, 90e9), ("keras", "gst", "predict", 8, 0.800, 90e9),
        ("keras", "gst", "frozen", 8, 0.560, 90e9),
        ("torch", "gst", "compile", 1, 0.080, None), ("torch", "gst", "bf16", 1, 0.050, None),
        ("torch", "gst", "compile", 8, 0.640, None),
        ("keras", "gst", "train", 8, 8.0, 90e9), ("torch", "gst", "train", 8, 6.4, None),
        ("torch", "gst", "train_compile", 8, 10.0, None),
        ("keras", "c2d", "predict", 8, 0.400, 100e9),
        ("onnxruntime", "gst", "fp32", 1, 0.120, 90e9), ("tflite", "gst", "int8", 1, 0.060, 90e9),
        ("onnxruntime", "gst", "int8", 1, 0.050, 90e9), ("torch", "gst", "int8", 1, 0.075, None),
    ]
    configs = [dict(framework=f, model=m, mode=mode, batch=b, size=64) for f, m, mode, b, _, _ in table]
    results = [dict(seconds=s, peak_rss_mb=500.0, **({"macs": macs} if macs else {})) for *_, s, macs in table]
    return make_rows(configs, results, peak_gflops=2500.0)


def test_rows_have_ms_per_clip_and_gflops():
    rows = {(r["framework"], r["mode"], r["batch"]): r for r in _rows() if r["model"] == "gst"}
    assert rows[("torch", "compile", 8)]["ms_per_clip"] == pytest.approx(80.0)  # 640 ms / 8 clips
    assert rows[("torch", "compile", 8)]["gflops"] == pytest.approx(2250.0)  # 2 x 90 G / 0.08 s, Keras' MACs
    assert rows[("keras", "frozen", 1)]["peak_share"] == pytest.approx(0.8)  # 2000 / 2500
    assert "gflops" not in rows[("keras", "train", 8)]


def test_ratios_their_targets_and_met():
    from keras_gst.benchmarks.report import compute_ratios, format_ratio

    ratios = compute_ratios(_rows(), peak_gflops=2500.0, theoretical_gflops=2000.0)
    expected = {  # name: (value, met), by hand from the seconds above
        "gst_over_c2d, tf.function, batch 1 (target <= MAC ratio 0.89)": (0.8, True),
        "gst_over_c2d, frozen, batch 1 (target <= MAC ratio 0.89)": (0.9, False),
        "c3d_over_c2d, frozen, batch 1 (target <= MAC ratio 1.90)": (2.0, False),
        "gst_over_c2d, predict, batch 8 (target <= MAC ratio 0.89)": (2.0, False),
        "keras_gst_over_torch_compile, tf.function, batch 1 (target <= 1.00)": (1.0, True),  # equal is met
        "keras_gst_over_torch_compile, frozen, batch 1 (target <= 1.00)": (1.125, False),
        "keras_gst_over_torch_compile, predict, batch 8 (target <= 1.00)": (1.25, False),
        "keras_gst_over_torch_compile, frozen, batch 8 (target <= 0.80)": (0.875, False),  # batched: 0.8
        "gst_frozen_share_of_measured_peak, batch 8 (target >= 0.85)": (2 * 90 / 0.07 / 2500, True),
        "gst_frozen_share_of_theoretical_peak, batch 8 (target >= 0.85)": (2 * 90 / 0.07 / 2000, True),
        "gst_frozen_share_of_measured_peak, batch 1 (target >= 0.85)": (0.8, False),
        "gst_frozen_share_of_theoretical_peak, batch 1 (target >= 0.85)": (1.0, True),
        "keras_bf16_over_keras_fp32_frozen, batch 1 (target <= 1.00)": (0.6 / 0.9, True),
        "keras_bf16_over_torch_bf16_compile, batch 1 (target <= 1.00)": (1.2, False),
        "keras_frozen_over_onnxruntime_fp32, batch 1 (target <= 1.00)": (0.75, True),
        "tflite_int8_over_torch_int8, batch 1 (target <= 1.00)": (0.8, True),
        "tflite_int8_over_onnxruntime_int8, batch 1 (target <= 1.00)": (1.2, False),
        "train_step_keras_over_torch_eager, batch 8 (target <= 1.00)": (1.25, False),
        "train_step_keras_over_torch_compile, batch 8 (target <= 1.00)": (0.8, True),
    }
    assert set(ratios) == set(expected)
    for name, (value, met) in expected.items():
        assert ratios[name]["value"] == pytest.approx(value) and ratios[name]["met"] is met, name
    name = "gst_over_c2d, tf.function, batch 1 (target <= MAC ratio 0.89)"
    assert format_ratio(name, ratios[name]) == name + ": 0.800 met"


def test_plans():
    from keras_gst.benchmarks.inference import parse_args, plan

    def rows(argv):
        return sorted((c["framework"], c["model"], c["mode"], c["batch"]) for c in plan(parse_args(argv)))

    assert rows(["--quick"]) == sorted(
        [("keras", m, mode, 1) for m in ("gst", "c2d") for mode in ("tf.function", "predict", "frozen")]
        + [("torch", "gst", "eager", 1), ("torch", "gst", "compile", 1)])
    full = rows([])
    keras_inference = {(m, mode, b) for f, m, mode, b in full if f == "keras" and mode != "train"}
    assert keras_inference == {(m, mode, b) for m in ("gst", "c2d", "gst_large", "c3d", "p3d") for b in (1, 8)
                               for mode in ("tf.function", "predict", "frozen")} | {("gst", "xla", 1), ("gst", "bf16", 1)}
    assert [r for r in full if r[0] == "torch"] == sorted(
        [("torch", "gst", mode, 1) for mode in ("eager", "compile", "bf16", "int8")]
        + [("torch", "gst", mode, 8) for mode in ("eager", "compile", "train", "train_compile")])
    assert [r for r in full if r[0] in ("tflite", "onnxruntime")] == [
        ("onnxruntime", "gst", "fp32", 1), ("onnxruntime", "gst", "int8", 1), ("tflite", "gst", "int8", 1)]
    assert ("keras", "gst", "train", 8) in full
    assert rows(["--quick", "--models", "gst", "--groups", "bf16", "int8", "--no-torch"]) == [
        ("keras", "gst", "bf16", 1), ("onnxruntime", "gst", "int8", 1), ("tflite", "gst", "int8", 1)]
    assert rows(["--no-train", "--batches", "8", "--models", "gst", "--no-torch", "--groups", "bf16", "train"]) == []
    assert rows(["--batches", "8", "--models", "c2d", "--no-torch"]) == [
        ("keras", "c2d", mode, 8) for mode in ("frozen", "predict", "tf.function")]


@pytest.mark.parametrize("measured, shown", [(140.0, True), (156.5, True), (215.1, False)])
def test_the_theoretical_peak_is_shown_only_when_not_below_the_measured_one(measured, shown, capsys):
    """EPYC_MILAN's formula gives 156.5 GFLOP/s at 2.45 GHz: a measured SGEMM above it means a faster clock."""
    import argparse

    from keras_gst.benchmarks.inference import _print_peaks
    from keras_gst.benchmarks.peak import reference_theoretical, theoretical_peak

    theoretical = theoretical_peak(EPYC_MILAN, threads=2, cpu_count=2)
    assert (reference_theoretical(theoretical, measured) is theoretical) is shown
    _print_peaks(argparse.Namespace(threads=2), {"gflops": measured, "backend": "numpy", "n": 3072}, theoretical)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("fp32 peak (the reference), measured") and f"{measured:.1f} GFLOP/s" in printed[0]
    assert ("= 156.5 GFLOP/s" in printed[1]) is shown and "2.45 GHz" in printed[1]
