"""`keras-gst train --dataset shards`: training and the final evaluation read `keras-gst shard` output."""

import json
import os

import pytest

pytest.importorskip("apache_beam")

TINY = ["--model", "gst_resnet18", "--weights", "none", "--frames", "4", "--scale-size", "40", "--crop-size", "32",
        "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "2", "--validation-steps", "1", "--verbose", "0",
        "--no-histograms", "--export", "none"]


@pytest.mark.large
def test_train_reads_shards(synthetic_data, tmp_path):
    from keras_gst.cli import main
    from keras_gst.data import read_list_file, read_shards
    from keras_gst.data.shards import write_shards

    local = ["--direct_running_mode=in_memory"]  # one process: the multi-processing default is tested in tests/data
    for split in ("train", "val"):
        manifest = write_shards(synthetic_data[split], tmp_path / split, num_shards=2, class_file=synthetic_data["classes"],
                                short_side=40, beam_args=local)
        assert manifest["num_failed"] == 0
    val = read_shards(tmp_path / "val")
    listed = read_list_file(synthetic_data["val"])
    assert sorted((r.path, r.label) for r in val.records) == sorted((r.path, r.label) for r in listed.records)
    assert val.class_names == synthetic_data["names"]
    out = tmp_path / "run"
    code = main(["train", "--dataset", "shards", "--train-list", str(tmp_path / "train"), "--val-list",
                 str(tmp_path / "val"), "--output-dir", str(out), *TINY])
    assert code == 0
    metrics = json.load(open(out / "eval" / "metrics.json"))
    assert metrics["num_samples"] == len(listed.records)  # every validation video, read from the shards
    assert json.load(open(out / "recipe.json"))["dataset"] == "shards"
    assert os.path.exists(out / "model.keras") and (out / "labels.txt").read_text().splitlines() == synthetic_data["names"]
