"""keras-hub's own model tests (`TestCase.run_backbone_test`, `run_task_test`, `run_model_saving_test`,
`run_preset_test`) on `GSTBackbone` and `GSTVideoClassifier`, tiny GST-R18 (2 frames, 32x32), under the
TensorFlow, JAX and torch backends.

`GSTKerasHubTest` runs in this process under the suite's backend (TensorFlow); `test_on_backend` runs it
again in one fresh pytest process per other backend (Keras reads KERAS_BACKEND once, when it is imported).
keras-hub's TestCase imports TensorFlow (`tf.test.TestCase`, `tf.data`) and grain whatever the backend, as
keras-hub's own suite does; the model family without TensorFlow installed is tests/test_no_tensorflow.py.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_gst import GSTBackbone, GSTVideoClassifier, GSTVideoClassifierPreprocessor, GSTVideoConverter

# keras-hub's test base class has no public import path (keras-hub's own model tests import it from here);
# the module, not the class, is bound here, so pytest does not collect the base class itself
hub_test_case = pytest.importorskip("keras_hub.src.tests.test_case")

T, SIZE, CLASSES = 2, 32, 3
BACKBONE = dict(depth=18, num_frames=T, image_shape=(SIZE, SIZE, 3))
# ResNet-18's last stage: 512 channels at stride 32 (He et al. 2016, Table 1), one output per frame
FEATURES_SHAPE = (2, T, SIZE // 32, SIZE // 32, 512)


def _pixels(seed):
    return np.random.default_rng(seed).integers(0, 256, (2, T, SIZE, SIZE, 3)).astype("float32")


@pytest.mark.large  # keras-hub's checks build and fit the model ~10 times: minutes on 2 cores
class GSTKerasHubTest(hub_test_case.TestCase):
    test_session = None  # tf.test.TestCase's session helper, not a test

    def setUp(self):
        keras.utils.set_random_seed(0)
        # a backend tensor, as in keras-hub's own backbone tests (its precision check traces the model's
        # compute_output_spec, whose layers see NumPy arrays as no tensor)
        self.frames = keras.ops.convert_to_tensor(np.random.default_rng(1).normal(size=(2, T, SIZE, SIZE, 3)), "float32")
        self.labels = np.array([0, 2])
        self.task_kwargs = dict(
            backbone=GSTBackbone(**BACKBONE),
            num_classes=CLASSES,
            preprocessor=GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(SIZE, SIZE))),
        )

    def test_backbone_basics(self):
        # no Dense layer in the backbone: keras-hub's int8/float8 check would quantize nothing. The mixed
        # precision check runs on TensorFlow (keras-hub skips it on torch CPU; on JAX CPU its eager float16 calls
        # take minutes); tests/models/test_hub.py checks mixed precision against float32.
        self.run_backbone_test(GSTBackbone, BACKBONE, self.frames, FEATURES_SHAPE, run_quantization_check=False,
                               run_mixed_precision_check=keras.backend.backend() == "tensorflow")

    def test_task_basics(self):
        self.run_task_test(GSTVideoClassifier, self.task_kwargs, (_pixels(2), self.labels),
                           expected_output_shape=(2, CLASSES))

    def test_saved_model(self):
        self.run_model_saving_test(GSTBackbone, BACKBONE, self.frames)
        self.run_model_saving_test(GSTVideoClassifier, self.task_kwargs, self.frames)

    def test_presets(self):
        model = GSTVideoClassifier(**self.task_kwargs)
        preset = os.path.join(self.get_temp_dir(), "gst_r18_tiny")
        model.save_to_preset(preset)
        # the task called on pixels equals the saved model on the same pixels normalised by hand (ImageNet
        # mean/std of [0, 1] pixels)
        pixels = _pixels(3)
        normalised = (pixels / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
        expected = keras.ops.convert_to_numpy(model(normalised.astype("float32"), training=False))
        loaded = GSTVideoClassifier.from_preset(preset)
        self.assertAllClose(loaded.predict(pixels, verbose=0), expected, atol=1e-5, rtol=1e-5)
        self.run_preset_test(GSTVideoClassifier, preset, normalised.astype("float32"),
                             expected_output=expected, expected_output_shape=(2, CLASSES))
        self.run_preset_test(GSTBackbone, preset, self.frames, expected_output=model.backbone(self.frames),
                             expected_output_shape=FEATURES_SHAPE)


@pytest.mark.large
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_on_backend(backend):
    """`GSTKerasHubTest` in a fresh pytest process with KERAS_BACKEND=`backend`."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -e \".[dev,torch]\" brings jax and torch)")
    env = dict(os.environ, KERAS_BACKEND=backend)
    cmd = [sys.executable, "-m", "pytest", f"{__file__}::GSTKerasHubTest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout and "failed" not in done.stdout, done.stdout[-2000:]
