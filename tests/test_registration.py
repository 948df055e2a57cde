"""`import keras_gst` imports no Keras (the CLI's --help stays instant) and registers the keras_gst classes with
Keras when Keras is loaded (before it, or at the first keras_gst name / `keras_gst.register()` after it), so
Keras' and keras-hub's own loaders find them. Each order runs in a fresh interpreter."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_gst

T, SIZE = 2, 32


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny classifier saved as a .keras file and as a keras-hub preset, and its logits on `clips`."""
    folder = tmp_path_factory.mktemp("registration")
    keras.utils.set_random_seed(0)
    model = keras_gst.GSTResNet18(3, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3))
    model.save(folder / "m.keras")
    model.save_to_preset(str(folder / "preset"))
    clips = np.random.default_rng(0).random((1, T, SIZE, SIZE, 3)).astype("float32")
    np.save(folder / "clips.npy", clips)
    np.save(folder / "logits.npy", keras.ops.convert_to_numpy(model(clips)))
    return folder


def _run(code, folder):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


CHECK = """
import numpy as np
model = keras.saving.load_model("m.keras")
assert type(model).__name__ == "GSTVideoClassifier", type(model)
np.testing.assert_allclose(keras.ops.convert_to_numpy(model(np.load("clips.npy"))), np.load("logits.npy"), atol=1e-6)
backbone = keras_hub.models.Backbone.from_preset("preset")
assert type(backbone).__name__ == "GSTBackbone", type(backbone)
assert not {"keras_gst.data", "keras_gst.export", "keras_gst.training.trainer"} & set(sys.modules)
print("loaded")
"""


def test_keras_first_then_keras_gst_registers_at_import(saved):
    """The keras-hub way: `import keras_gst` after Keras registers every class; nothing else is touched."""
    assert _run("import sys, keras, keras_hub, keras_gst\n" + CHECK, saved).strip() == "loaded"


def test_keras_gst_first_imports_no_keras_then_registers_on_register(saved):
    code = ("import sys, keras_gst\n"
            "assert not {'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "import keras, keras_hub\n"
            "keras_gst.register()\n" + CHECK)
    assert _run(code, saved).strip() == "loaded"


def test_a_failing_import_is_raised_not_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_gst.analysis", None)  # importing it now raises ImportError
    with pytest.raises(ImportError, match="keras_gst.analysis"):
        keras_gst.register()
