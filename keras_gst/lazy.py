"""Packages whose public names are imported on first use (PEP 562): `keras_gst`, `keras_gst.models`,
`keras_gst.export` and `keras_gst.training` each get their module `__getattr__` from `lazy_exports`, so
importing a package imports none of its submodules (no Keras, no TensorFlow) until a name is used.
Standard library only."""

import importlib
import sys


def lazy_exports(package, exports):
    """`(__getattr__, __dir__, names)` for the package named `package`, whose public names are defined in
    its submodules: `exports` maps a submodule's full name to the names it defines.

    `__getattr__(name)` imports the name's submodule at the first use and returns the submodule's value at
    each use (nothing is copied into the package, so a name always reads what its module holds, e.g. a
    test's patch); an ImportError of the submodule propagates, and an unknown name is an AttributeError.
    `names` is the sorted list of public names, for `__all__`.

    Example:

    ```python
    # my_package/__init__.py
    from keras_gst.lazy import lazy_exports

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"my_package.core": ("Model", "fit")})
    ```
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, sorted(where)
