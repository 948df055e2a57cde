"""`keras-gst bench` runs the benchmarks of `keras_gst.benchmarks` (tiny settings here: no timing is asserted)."""

import json
import statistics

import pytest

from keras_gst.cli import main


@pytest.mark.large
def test_bench_inference_quick_writes_rows_and_ratios(tmp_path, capsys):
    out = tmp_path / "inference.json"
    code = main(["bench", "inference", "--quick", "--no-torch", "--frames", "2", "--size", "64",
                 "--repeats", "1", "--rounds", "2", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    rows = {(r["model"], r["mode"]): r for r in result["rows"]}
    assert set(rows) == {(m, mode) for m in ("gst", "c2d") for mode in ("tf.function", "frozen")}
    for row in rows.values():
        assert row["ms_per_clip"] > 0 and row["peak_rss_mb"] > 100
        assert len(row["seconds_per_round"]) == 2 and row["seconds"] == statistics.median(row["seconds_per_round"])
    assert rows[("gst", "tf.function")]["macs"] < rows[("c2d", "tf.function")]["macs"]
    assert result["matmul_peak_gflops"] > 0
    assert {"gst_over_c2d, tf.function (target <= 0.89)", "gst_over_c2d, frozen (target <= 0.89)"} <= set(result["ratios"])
    assert "gst_over_c2d" in capsys.readouterr().out


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
