"""keras-gst: Grouped Spatial-Temporal aggregation (Luo & Yuille, ICCV 2019) for Keras 3.

`import keras_gst` does not import Keras, so the CLI's `--help` stays instant. Each Keras class (the layers,
`GSTBackbone`, `GSTVideoClassifier` and its preprocessor, the 0.1 `GSTResNet`, the training optimiser
`GSTSGD`) is registered with Keras as "keras_gst>Name" when its module is imported, which happens:

- at `import keras_gst`, when Keras is imported already (`import keras` or `import keras_hub` first);
- otherwise at the first use of a public name (`keras_gst.GSTResNet50`, `from keras_gst import GSTBackbone`),
  or at `keras_gst.register()`.

After that, `keras.saving.load_model("m.keras")` and `keras_hub.models.Backbone.from_preset(dir)` find the
classes. Neither TensorFlow nor the data, export or training packages are imported for it: the model
family runs on the TensorFlow, JAX and torch backends. Package layering: docs/architecture.md.

Example:

```python
import keras
import keras_gst  # Keras is loaded: the keras_gst classes are registered now

keras_gst.GSTResNet18(num_classes=2, weights=None, num_frames=4, input_shape=(32, 32, 3)).save("gst_r18.keras")
model = keras.saving.load_model("gst_r18.keras")
print(type(model).__name__)  # GSTVideoClassifier
```
"""

import os
import sys

from keras_gst.lazy import lazy_exports

# TensorFlow enables its oneDNN CPU kernels by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX; on
# the others (AVX2 CPUs such as AMD Zen 3) they are off and GST-R50 inference is slower (measured in
# docs/performance.md). keras_gst turns them on when it is imported before TensorFlow, unless the variable is set
# (TF_ENABLE_ONEDNN_OPTS=0 keeps them off).
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_first_use, __dir__, _NAMES = lazy_exports(__name__, {
    "keras_gst.analysis": ("count_macs", "count_params"),
    "keras_gst.layers": ("C2DBlock", "C3DBlock", "FrameConvBN", "GSTBlock", "P3DBlock"),
    "keras_gst.applications": ("GSTResNet18", "GSTResNet34", "GSTResNet50", "GSTResNet101"),
    "keras_gst.models": (
        "GSTBackbone", "GSTResNet", "GSTVideoClassifier", "GSTVideoClassifierPreprocessor", "GSTVideoConverter",
        "feature_model", "load_model", "per_frame_model",
    ),
    "keras_gst.training.optim": ("GSTSGD",),
})
__all__ = _NAMES + ["register"]


def register() -> None:
    """Register every keras_gst Keras class with Keras (imports Keras and the model family, not TensorFlow
    unless it is the Keras backend). Idempotent; needed only when no keras_gst name has been used yet and
    Keras was imported after keras_gst, before loading a `.keras` file or preset with Keras' own functions.

    Example:

    ```python
    import keras_gst
    import keras_hub

    keras_gst.register()
    keras_gst.GSTBackbone(depth=18, num_frames=4, image_shape=(32, 32, 3)).save_to_preset("gst_r18")
    backbone = keras_hub.models.Backbone.from_preset("gst_r18")  # keras-hub finds the keras_gst class
    print(type(backbone).__name__)  # GSTBackbone
    ```
    """
    for name in _NAMES:
        _first_use(name)


def __getattr__(name):
    """The first use of any public name registers every class (`register`)."""
    if name in _NAMES:
        register()
    return _first_use(name)


if "keras" in sys.modules:  # Keras is loaded already: registering the classes costs little
    register()
