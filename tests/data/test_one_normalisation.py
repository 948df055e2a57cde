"""One preprocessing path: the tf.data pipeline, predict's clip loader, the uint8 export signature and a
factory-built classifier's preprocessor turn the same uint8 frames into the same normalised tensor, equal
to ImageNet normalisation written here in NumPy."""

import cv2
import numpy as np
import tensorflow as tf

import keras_gst
from keras_gst.data import DataSpec, VideoRecord, build_dataset
from keras_gst.export.clips import load_clip, model_input
from keras_gst.export.savedmodel import serving_function

T, SIZE, FRAME = 4, 56, 64  # 64 = 56 * 256 / 224: the evaluation view is the centre 56 x 56, no resampling
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def reference(pixels):
    return ((pixels / 255.0 - MEAN) / STD).astype(np.float32)


def frame_folder(tmp_path):
    """T JPEG frames 64 x 64 and the RGB uint8 pixels they decode to."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "clip"
    folder.mkdir()
    frames = []
    for i in range(T):
        path = str(folder / f"{i + 1:05d}.jpg")
        cv2.imwrite(path, rng.integers(0, 256, (FRAME, FRAME, 3), dtype=np.uint8))
        frames.append(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
    return folder, np.stack(frames)


def test_every_path_normalises_like_numpy(tmp_path):
    folder, frames = frame_folder(tmp_path)
    offset = (FRAME - SIZE) // 2
    pixels = frames[:, offset:offset + SIZE, offset:offset + SIZE][None]  # (1, T, 56, 56, 3) uint8, the centre view
    expected = reference(pixels)

    spec = DataSpec(num_frames=T, crop_size=SIZE, scale_size=FRAME)
    (pipeline, _), = build_dataset([VideoRecord(str(folder), T, 0)], spec, batch_size=1)
    np.testing.assert_allclose(pipeline.numpy(), expected, atol=1e-5)

    clip = load_clip(str(folder), T, SIZE)  # predict / eval's loader: pixels, then the model file's input
    np.testing.assert_array_equal(clip, pixels[0])
    np.testing.assert_allclose(model_input(clip[None], "float32"), expected, atol=1e-5)

    serve = serving_function(lambda x, training=False: x, "uint8")  # the uint8 export signature, model = identity
    np.testing.assert_allclose(serve(tf.constant(pixels))["logits"].numpy(), expected, atol=1e-5)

    model = keras_gst.GSTResNet18(3, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3))
    np.testing.assert_allclose(np.asarray(model.preprocessor(pixels)), expected, atol=1e-5)  # what fit / predict run
