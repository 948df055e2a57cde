"""Shared fixtures of the export tests: one tiny GST-R18 (4 frames, 64x64, 5 classes, seeded random
weights), real clips from tests/assets/real, and .tflite files converted once per session."""

import pytest

NUM_FRAMES, SIZE, NUM_CLASSES = 4, 64, 5


@pytest.fixture(scope="session")
def tiny_model():
    import keras

    from keras_gst import GSTResNet18

    keras.utils.set_random_seed(0)
    return GSTResNet18(NUM_CLASSES, weights=None, num_frames=NUM_FRAMES, input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="session")
def real_sources(real_data):
    return [str(real_data / "videos"), str(real_data / "rawframes" / "ssv2")]


@pytest.fixture(scope="session")
def real_clips(real_sources):
    """20 real pixel clips: 2 TSN test phases of each of the 5 videos and 5 SSv2 frame folders."""
    from keras_gst.export import load_clips

    clips, names = load_clips(real_sources, NUM_FRAMES, SIZE, clips_per_video=2)
    assert clips.shape == (20, NUM_FRAMES, SIZE, SIZE, 3), names
    return clips


@pytest.fixture(scope="session")
def tflite_file(tiny_model, real_clips, tmp_path_factory):
    """mode -> path of the tiny model converted with that quantization (all four converted on first
    use, from one intermediate SavedModel)."""
    from keras_gst.export import QUANTIZE_MODES, convert_tflite_modes

    folder = tmp_path_factory.mktemp("tflite")
    paths = {mode: str(folder / f"tiny_{mode}.tflite") for mode in QUANTIZE_MODES}
    converted = []

    def get(mode):
        if not converted:
            convert_tflite_modes(tiny_model, paths, calibration_clips=real_clips)
            converted.append(True)
        return paths[mode]

    return get


@pytest.fixture(scope="session")
def savedmodel_dir(tiny_model, tmp_path_factory):
    """The tiny model exported as a SavedModel with float32 input."""
    from keras_gst.export import export_savedmodel

    path = str(tmp_path_factory.mktemp("savedmodel") / "sm")
    export_savedmodel(tiny_model, path)
    return path
