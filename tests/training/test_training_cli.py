"""`keras-gst eval`, `analyze-bn`, `explain` on a small saved model and real synthetic video files."""

import contextlib
import io
import json
import os

import numpy as np
import pytest

from cli_helpers import run_cli
from keras_gst.cli import main


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from keras_gst import GSTResNet18

    model = GSTResNet18(2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    path = str(tmp_path_factory.mktemp("model") / "m.keras")
    model.save(path)
    return path, model


def test_eval_single_and_multi_view(saved_model, synthetic_data, tmp_path):
    path, model = saved_model
    code, out, _ = run_cli("eval", path, "--annotations", synthetic_data["val"], "--class-file", synthetic_data["classes"],
                      "--scale-size", "40", "--output-dir", str(tmp_path / "e1"), "--json")
    single = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and single["num_samples"] == 2 and single["views"] == 1
    scores = np.load(tmp_path / "e1" / "scores.npz")
    assert scores["scores"].shape == (2, 2) and sorted(scores["labels"].tolist()) == [0, 1]
    assert (tmp_path / "e1" / "confusion.png").exists() and (tmp_path / "e1" / "per_class.csv").exists()
    # 2 clips x 3 crops: 6 views per video, averaged into one score per video
    code, out, _ = run_cli("eval", path, "--annotations", synthetic_data["val"], "--class-file", synthetic_data["classes"],
                      "--scale-size", "40", "--clips", "2", "--crops", "3", "--output-dir", str(tmp_path / "e6"))
    assert code == 0 and "2 clip(s) x 3 crop(s)" in out and "top-1" in out
    multi = np.load(tmp_path / "e6" / "scores.npz")["scores"]
    assert multi.shape == (2, 2) and not np.allclose(multi, scores["scores"])


def test_eval_takes_a_preset_dir_and_ignores_its_preprocessor(saved_model, synthetic_data, tmp_path):
    """A preset with a preprocessor (as convert-torch writes) scores like the .keras file: the pipeline's
    clips are normalised already, so the preprocessor must not run a second time."""
    from keras_gst import GSTVideoClassifierPreprocessor, GSTVideoConverter, load_model

    path, _ = saved_model
    model = load_model(path)
    model.preprocessor = GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(32, 32)))
    model.save_to_preset(str(tmp_path / "preset"))
    scores = {}
    for name, source in (("keras", path), ("preset", str(tmp_path / "preset"))):
        code, _, _ = run_cli("eval", source, "--annotations", synthetic_data["val"], "--class-file",
                        synthetic_data["classes"], "--scale-size", "40", "--output-dir", str(tmp_path / name))
        assert code == 0
        scores[name] = np.load(tmp_path / name / "scores.npz")["scores"]
    np.testing.assert_allclose(scores["preset"], scores["keras"], atol=1e-6)
    os.remove(tmp_path / "preset" / "model.weights.h5")
    code, _, err = run_cli("eval", tmp_path / "preset", "--annotations", synthetic_data["val"])
    assert code == 2 and "model.weights.h5 is missing" in err


def test_eval_combines_epic_verb_and_noun_scores(tmp_path):
    np.savez(tmp_path / "verb.npz", scores=np.array([[3.0, 0.0], [0.0, 3.0]]), labels=np.array([0, 0]))
    np.savez(tmp_path / "noun.npz", scores=np.array([[0.0, 3.0], [0.0, 3.0]]), labels=np.array([1, 1]))
    code, out, _ = run_cli("eval", "--epic-verb-scores", str(tmp_path / "verb.npz"), "--epic-noun-scores",
                      str(tmp_path / "noun.npz"), "--json")
    r = json.loads(out)
    assert code == 0 and (r["verb_top1"], r["noun_top1"], r["action_top1"]) == (0.5, 1.0, 0.5)


def test_analyze_bn_writes_the_grid_and_one_row_per_unit(saved_model, tmp_path):
    path, model = saved_model
    png = tmp_path / "bn.png"
    code, out, _ = run_cli("analyze-bn", path, "--output", str(png))
    rows = [l.split() for l in out.splitlines() if l.startswith("stack")]
    assert code == 0 and png.stat().st_size > 10000
    assert [r[0] for r in rows] == [u.name for u in model.units()]
    assert all(int(r[1]) + int(r[2]) == u.filters and int(r[2]) == u.filters // 4 for r, u in zip(rows, model.units()))


def test_explain_plots_per_frame_probabilities(saved_model, synthetic_data, tmp_path):
    path, _ = saved_model
    video = os.path.join(os.path.dirname(synthetic_data["val"]), open(synthetic_data["val"]).readline().split()[0])
    png = tmp_path / "fig5.png"
    code, out, _ = run_cli("explain", video, "--model", path, "--labels", synthetic_data["classes"], "--scale-size", "40",
                      "--output", str(png))
    assert code == 0 and png.stat().st_size > 5000
    argmax = [l for l in out.splitlines() if l.startswith("per-frame argmax:")][0].split(":")[1].split()
    assert len(argmax) == 4 and set(argmax) <= {"0", "1"}  # one prediction per sampled frame
    assert any(name in out for name in synthetic_data["names"])


@pytest.fixture(scope="module")
def trained_model(synthetic_data, tmp_path_factory):
    """GST-R18 (4 frames, 32 px, 2 classes) trained a few steps on the synthetic videos: its predictions
    depend on the input (a random-init model's barely do)."""
    import keras

    from keras_gst import GSTResNet18
    from keras_gst.data import DataSpec, build_dataset, read_list_file

    keras.utils.set_random_seed(0)
    model = GSTResNet18(2, weights=None, num_frames=4, input_shape=(32, 32, 3))
    model.preprocessor = None  # the pipeline's clips are normalised
    records = read_list_file(synthetic_data["train"], os.path.dirname(synthetic_data["train"]))
    ds = build_dataset(records, DataSpec(num_frames=4, scale_size=37, crop_size=32), training=True, batch_size=4, num_classes=2, seed=0, repeat=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ds, steps_per_epoch=6, epochs=1, verbose=0)
    path = str(tmp_path_factory.mktemp("trained") / "trained.keras")
    model.save(path)
    return path


@pytest.mark.large
def test_explain_defaults_to_the_model_input_size_and_agrees_with_predict(trained_model, synthetic_data, tmp_path):
    """No --scale-size: explain crops like predict (short side 32 * 256 / 224), so the clip prediction
    (top class and its probability) is predict's, for every validation video."""
    root = os.path.dirname(synthetic_data["val"])
    for line in open(synthetic_data["val"]):
        video = os.path.join(root, line.split()[0])
        code, out, _ = run_cli("predict", video, "--model", trained_model, "--json")
        assert code == 0
        best = json.loads(out)["topk"][0]
        code, out, _ = run_cli("explain", video, "--model", trained_model, "--topk", "1", "--output", str(tmp_path / "x.png"))
        assert code == 0
        probability, index = out.splitlines()[1].split()
        assert int(index) == best["index"]
        assert float(probability) == pytest.approx(best["probability"], abs=2e-3)


# ---- `keras-gst train`: every flag checked before any data or model is loaded ----

TRAIN_BAD = [  # values only the whole network refuses (a bad value of one flag: test_a_unit_parameter_...)
    (["--alpha", "0.3"], "--alpha", "0.3 x 64"),  # 19.2 temporal channels in the first unit
    (["--beta", "0.3"], "--beta", "0.3 x 64"),
    (["--block", "c3d", "--groups", "3"], "--groups", "dividing"),
    (["--groups", "2"], "--groups", "'c3d' only"),
    (["--size", "8"], "--crop-size", "at least 32x32"),
    (["--data", "{tmp}/data", "--train-list", "{tmp}/train.txt"], "--data", "not both"),
    (["--data", "{tmp}/nowhere"], "--data", "not found"),
    (["--output-dir", "{tmp}/file/run"], "--output-dir", "is a file, not a folder"),
    (["--weights", "{tmp}/missing.pth"], "--weights", "no such file or directory"),
]


@pytest.mark.parametrize("argv, flag, text", TRAIN_BAD, ids=[" ".join(a) for a, _, _ in TRAIN_BAD])
def test_train_refuses_bad_flags_before_loading(argv, flag, text, tmp_path, monkeypatch):
    import keras_gst.training.finetune as finetune
    import keras_gst.training.trainer as trainer

    def never(*args, **kwargs):
        raise AssertionError("data or a model was loaded before the flags were checked")

    monkeypatch.setattr(finetune, "finetune_records", never)
    monkeypatch.setattr(trainer, "fit", never)
    (tmp_path / "data").mkdir()
    (tmp_path / "file").write_text("a file")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    base = ["train", "--data", str(tmp_path / "data")] if "--data" not in argv and "--train-list" not in argv else ["train"]
    code, _, err = run_cli(*base, "--weights", "none", "--output-dir", tmp_path / "out", *argv)
    assert code == 2 and f"keras-gst train: error: argument {flag}: " in err and text in err, err
    assert not (tmp_path / "out").exists()


# One check per parameter, the unit's: the layer, the Recipe (through the model's check_model) and the flag
# refuse a value with the very same message. (layer, its keyword arguments, Recipe fields, flags)
UNIT_BAD = [
    ("GSTBlock", dict(filters=64, alpha=1.0), dict(alpha=1.0), ["--alpha", "1"]),
    ("GSTBlock", dict(filters=64, alpha=0.0), dict(alpha=0.0), ["--alpha", "0"]),
    ("GSTBlock", dict(filters=64, beta=0.0), dict(beta=0.0), ["--beta", "0"]),
    ("GSTBlock", dict(filters=64, beta=1.5), dict(beta=1.5), ["--beta", "1.5"]),
    ("C3DBlock", dict(filters=64, groups=0), dict(block="c3d", groups=0), ["--block", "c3d", "--groups", "0"]),
]


@pytest.mark.parametrize("layer, kwargs, fields, argv", UNIT_BAD, ids=[" ".join(a) for *_, a in UNIT_BAD])
def test_a_unit_parameter_is_refused_by_the_units_own_check(layer, kwargs, fields, argv, tmp_path, monkeypatch):
    import keras_gst.layers
    import keras_gst.training.finetune as finetune
    import keras_gst.training.trainer as trainer
    from keras_gst.errors import ParameterError
    from keras_gst.training.recipe import Recipe

    def never(*args, **kwargs):
        raise AssertionError("data or a model was loaded before the flags were checked")

    monkeypatch.setattr(finetune, "finetune_records", never)
    monkeypatch.setattr(trainer, "fit", never)
    param = argv[-2].lstrip("-")
    with pytest.raises(ParameterError) as unit:
        getattr(keras_gst.layers, layer)(**kwargs)
    with pytest.raises(ParameterError) as recipe:
        Recipe(**fields)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as parsed:  # argparse refuses it
        main(["train", "--data", str(tmp_path), "--output-dir", str(tmp_path / "out")] + argv)
    code = parsed.value.code
    assert unit.value.param == recipe.value.param == param and recipe.value.detail == unit.value.detail
    assert code == 2 and err.getvalue().strip().endswith(f"error: argument --{param}: {unit.value.detail}")


def test_train_alpha_1_exits_2_naming_alpha_before_keras_is_imported(tmp_path):
    """`keras-gst train --alpha 1 ...`: refused at parse time, in a fresh interpreter that never imports Keras
    or TensorFlow; alpha is GST's share of temporal output channels, so 1 (no spatial path) is out of (0, 1)."""
    import subprocess
    import sys

    script = ("import sys; from keras_gst.cli import main\n"
              f"try: main(['train', '--data', {str(tmp_path)!r}, '--alpha', '1'])\n"
              "finally: print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout.strip() == "[]", (done.stdout, done.stderr)
    assert "keras-gst train: error: argument --alpha: " in done.stderr and "(0, 1), got 1.0" in done.stderr


def test_recipe_file_gives_the_defaults_and_flags_override_it(tmp_path, monkeypatch):
    """`--recipe FILE` (a script's DEFAULTS or a run's recipe.json): every field reaches fine_tune, a later
    flag overrides one, and --recipe after another flag is refused."""
    import keras_gst.training.finetune as finetune
    from keras_gst.training.recipe import Recipe

    seen = {}
    def fake_fine_tune(recipe, *args):
        seen["recipe"] = recipe
        return finetune.FineTuneResult(None, None, None)

    monkeypatch.setattr(finetune, "fine_tune", fake_fine_tune)
    recipe = Recipe(name="mine", num_frames=16, depth=18, block="c3d", groups=2, base_lr=0.02, decay_epochs=(3, 4),
                    weights=None, dtype="float32", output_dir=str(tmp_path / "out"), crop_size=112, scale_size=128)
    (tmp_path / "recipe.json").write_text(recipe.to_json())
    assert run_cli("train", "--recipe", tmp_path / "recipe.json", "--epochs", "2")[0] == 0
    assert seen["recipe"] == recipe.replace(epochs=2)  # every other field as in the file
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        main(["train", "--epochs", "2", "--recipe", str(tmp_path / "recipe.json")])
    assert "--recipe: must come before the other flags" in err.getvalue()
