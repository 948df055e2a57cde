"""`DataSpec` checks each data argument once, naming it; the Recipe and `keras-gst train` reuse the checks."""

import sys

import numpy as np
import pytest

from keras_gst.data.spec import DataSpec
from keras_gst.errors import ParameterError
from keras_gst.training.recipe import Recipe, dataset_options


@pytest.mark.parametrize("changes, param", [
    ({"num_frames": 0}, "num_frames"),
    ({"num_frames": 257}, "num_frames"),
    ({"num_frames": 4.0}, "num_frames"),
    ({"crop_size": 0}, "crop_size"),
    ({"crop_size": 224, "scale_size": 200}, "scale_size"),
    ({"sampling": "uniform"}, "sampling"),
    ({"frame_interval": 0}, "frame_interval"),
    ({"scales": (1.0, 1.5)}, "scales"),
    ({"scales": ()}, "scales"),
    ({"flip": "yes"}, "flip"),
    ({"flip": 1}, "flip"),
    ({"flip_map": {1: 2}}, "flip_map"),
    ({"num_clips": 0}, "num_clips"),
    ({"num_crops": 4}, "num_crops"),
    ({"num_clips": 11, "num_crops": 10}, "num_clips"),
    ({"template": "frame.jpg"}, "template"),
    ({"on_error": "ignore"}, "on_error"),
    ({"decode_timeout": 0}, "decode_timeout"),
])
def test_bad_values_name_their_field(changes, param):
    with pytest.raises(ParameterError) as error:
        DataSpec(**changes)
    assert error.value.param == param


def test_good_values_are_kept_and_maps_frozen():
    spec = DataSpec(num_frames=16, crop_size=112, scale_size=128, sampling="dense", frame_interval=2, flip=False,
                    flip_map={3: 4, 4: 3}, num_clips=2, num_crops=3, template="auto", on_error="skip")
    assert (spec.num_frames, spec.crop_size, spec.scale_size, spec.num_views) == (16, 112, 128, 6)
    assert spec.flip_map == ((3, 4), (4, 3))
    hash(spec)  # frozen and hashable
    with pytest.raises(ParameterError):
        spec.replace(num_crops=7)


def test_recipe_checks_through_the_spec_and_names_its_own_fields():
    """The Recipe's clip fields are checked by DataSpec, with the Recipe's names for the test views; no
    TensorFlow is imported for it (the CLI refuses a bad flag at once)."""
    for changes, param in (({"val_num_crops": 4}, "val_num_crops"), ({"val_num_clips": 0}, "val_num_clips"),
                           ({"num_frames": 0}, "num_frames"), ({"on_error": "x"}, "on_error"),
                           ({"crop_size": 224, "scale_size": 100}, "scale_size")):
        with pytest.raises(ParameterError) as error:
            Recipe(**changes)
        assert error.value.param == param


def test_recipe_data_is_the_spec_build_dataset_takes():
    recipe = Recipe(dataset="epic-kitchens", num_frames=4, crop_size=32, scale_size=36, val_num_clips=2,
                    val_num_crops=3, flip=False, on_error="raise", seed=3)
    assert recipe.data == DataSpec(num_frames=4, crop_size=32, scale_size=36, flip=False, num_clips=2, num_crops=3,
                                   template="frame_{:010d}.jpg", on_error="raise")
    train = dataset_options(recipe, True, ["a", "b"], 2)
    assert train == dict(spec=recipe.data, training=True, class_names=["a", "b"], num_classes=2, seed=3, repeat=True)
    assert dataset_options(recipe, False, [], 2)["spec"].num_views == 6  # the final evaluation: the recipe's views
    assert dataset_options(recipe, False, [], 2, single_view=True)["spec"].num_views == 1  # validation while training


def test_spec_module_needs_no_tensorflow():
    import subprocess

    code = ("import sys; from keras_gst.data.spec import DataSpec; from keras_gst.training.recipe import Recipe; "
            "Recipe().data; DataSpec(); assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("frames", [0, -1, 257, 2.5, True, float("nan"), float("inf")])
def test_frames_per_clip_have_one_range_for_data_model_and_flags(frames, capsys):
    """T from 1 to 256 everywhere: the clip spec, the model check the backbone and Recipe run, and train's
    --frames refuse the same values, naming num_frames / the flag (the one check: keras_gst.checks.check_num_frames)."""
    from keras_gst.cli import build_parser
    from keras_gst.models.specs import check_model

    with pytest.raises(ParameterError) as spec_error:
        DataSpec(num_frames=frames)
    assert spec_error.value.param == "num_frames"
    with pytest.raises(ParameterError) as model_error:
        check_model(18, num_frames=frames)
    assert model_error.value.param == "num_frames"
    if not isinstance(frames, bool):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["train", "--data", "x", "--frames", str(frames)])
        assert exit_.value.code == 2 and "--frames" in capsys.readouterr().err
    for good in (1, 8, 256):
        assert DataSpec(num_frames=good).num_frames == good
        check_model(18, num_frames=good)
    check_model(18, num_frames=np.int64(8))  # a NumPy integer is a whole number of frames too
