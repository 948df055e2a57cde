"""`fit(Recipe(dtype=...))` and `keras-gst train --dtype`: mixed precision end to end on the synthetic data
(MirroredStrategy on the CPU, the paper's optimiser, checkpoints, final evaluation)."""

import math

import keras
import numpy as np
import pytest


@pytest.mark.large
@pytest.mark.parametrize("dtype", ["mixed_float16", "mixed_bfloat16"])
def test_fit_in_mixed_precision(synthetic_data, tmp_path, dtype):
    from keras_gst.training import Recipe, fit

    recipe = Recipe(dataset="list", train_annotations=synthetic_data["train"], val_annotations=synthetic_data["val"],
                    class_file=synthetic_data["classes"], depth=18, num_frames=2, scale_size=40, crop_size=32,
                    weights=None, epochs=1, batch_size=2, steps_per_epoch=2, output_dir=str(tmp_path / "run"),
                    seed=0, verbose=0, histograms=False, dtype=dtype)
    result = fit(recipe)
    model = result.model
    assert model.dtype_policy.name == dtype and model.backbone.get_layer("stem").compute_dtype == dtype[6:]
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (dtype == "mixed_float16")
    assert all(math.isfinite(v) for v in result.history["loss"])
    assert {w.dtype for w in model.weights} == {"float32"}
    assert all(np.all(np.isfinite(np.asarray(w))) for w in model.weights)
    assert 0.0 <= result.evaluation["top1"] <= 1.0
    best = keras.saving.load_model(result.paths["best"], compile=False)
    assert best.dtype_policy.name == dtype


def test_cli_dtype_flag_reaches_the_recipe_and_rejects_unknown_values(capsys):
    import argparse

    from keras_gst.commands.train import add_recipe_arguments, recipe_from_args
    from keras_gst.training import Recipe

    parser = add_recipe_arguments(argparse.ArgumentParser(), Recipe())
    assert recipe_from_args(parser.parse_args(["--dtype", "mixed_bfloat16"]), Recipe()).dtype == "mixed_bfloat16"
    assert recipe_from_args(parser.parse_args([]), Recipe()).dtype == "float32"
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--dtype", "float17"])
    assert info.value.code == 2 and "float17" in capsys.readouterr().err
