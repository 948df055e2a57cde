"""keras-gst: Grouped Spatial-Temporal aggregation (Luo & Yuille, ICCV 2019) for Keras 3.

The public names are imported on first use (PEP 562), so `import keras_gst` and the CLI's `--help` do not
load TensorFlow. The first name used, or Keras being imported (before or after `import keras_gst`), imports
them all, which registers every keras_gst class with Keras (layers, `GSTBackbone`, `GSTVideoClassifier`
and its preprocessor, the 0.1 `GSTResNet`, the training optimiser GSTSGD): `keras.saving.load_model("m.keras")`
and `keras_hub.models.Backbone.from_preset(dir)` then find them. Package layering: docs/architecture.md.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

# TensorFlow enables its oneDNN CPU kernels by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX; on
# the others (AVX2 CPUs such as AMD Zen 3) they are off and GST-R50 inference is slower (measured in
# docs/performance.md). keras_gst turns them on when it is imported before TensorFlow, unless the variable is set
# (TF_ENABLE_ONEDNN_OPTS=0 keeps them off).
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_EXPORTS = {
    "keras_gst.analysis": ("count_macs", "count_params"),
    "keras_gst.layers": ("C2DBlock", "C3DBlock", "FrameConvBN", "GSTBlock", "P3DBlock"),
    "keras_gst.applications": ("GSTResNet18", "GSTResNet34", "GSTResNet50", "GSTResNet101"),
    "keras_gst.models": (
        "GSTBackbone", "GSTResNet", "GSTVideoClassifier", "GSTVideoClassifierPreprocessor", "GSTVideoConverter",
        "feature_model", "load_model", "per_frame_model",
    ),
    "keras_gst.training.optim": ("GSTSGD",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def _load_all(strict=True):
    """Import every public name into the package namespace (registers the Keras serializables).

    `strict=False` (the Keras import hook): Keras may be imported by a keras_gst module that is itself
    half-way through its import (`import keras_gst.analysis` -> ... -> `import keras`); exports that
    cannot load yet because of that are skipped here (that import completes them, and the next attribute
    access loads them) instead of failing the import."""
    for module, names in _EXPORTS.items():
        try:
            loaded = importlib.import_module(module)
            globals().update({name: getattr(loaded, name) for name in names})
        except (ImportError, AttributeError):
            if strict:
                raise


def __getattr__(name):
    if name in _WHERE:
        _load_all()
        return globals()[name]
    raise AttributeError(f"module 'keras_gst' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _RegisterWithKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: when `keras` itself is imported (after `import keras_gst`), load our names right after it,
    so `keras.saving.load_model` finds GSTResNet, the layers and GSTSGD without touching a keras_gst name."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # once; the real finders locate keras
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self._loader
        self._loader.exec_module(module)
        _load_all(strict=False)


if "keras" in sys.modules:  # Keras is loaded already: registering the classes now costs little
    _load_all()
else:
    sys.meta_path.insert(0, _RegisterWithKeras())
