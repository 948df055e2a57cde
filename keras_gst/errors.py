"""Typed errors of the keras_gst library workflows (stdlib only: any package may import this module).

A workflow (fine-tune, export, predict, eval, stream) raises `ParameterError` for a bad argument value or
combination, with `param` set to the keyword argument it names (`"num_frames"`, `"calibration"`, ...).
The command line maps `param` to its own flag (`--frames`, `--calibration`) and exits 2; it never rewrites
the message text. `ModelFileError` and `DataFileError` name the file that could not be used.

Example:

```python
from keras_gst.errors import ParameterError

try:
    raise ParameterError("alpha", "must be in (0, 1), got 1.0")
except ParameterError as e:
    print(e.param, e)  # alpha alpha: must be in (0, 1), got 1.0
```
"""

import os


class KerasGSTError(Exception):
    """Base class of keras_gst's typed errors: one `except KerasGSTError` catches them all.

    Example:

    ```python
    from keras_gst.errors import DataFileError, KerasGSTError

    try:
        raise DataFileError("clip.mp4", "cannot decode any frame")
    except KerasGSTError as e:
        print(type(e).__name__, e)  # DataFileError clip.mp4: cannot decode any frame
    ```
    """


class ParameterError(KerasGSTError, ValueError):
    """A bad value (or combination) of the keyword argument `param`; `detail` is `message` alone.

    Example:

    ```python
    from keras_gst.errors import ParameterError

    error = ParameterError("num_frames", "must be >= 1, got 0")
    print(error)  # num_frames: must be >= 1, got 0
    print(error.param, isinstance(error, ValueError))  # num_frames True
    ```
    """

    def __init__(self, param: str, message: str):
        self.param = param
        self.detail = message
        super().__init__(f"{param}: {message}")


class ModelFileError(KerasGSTError, ValueError):
    """A model file or directory `path` that cannot be loaded or trusted; the message says what to do.
    `param` is the argument that named the file (default ``"model"``).

    Example:

    ```python
    from keras_gst.errors import ModelFileError

    error = ModelFileError("gst.keras", "not a Keras model file: pass a .keras file or a preset folder")
    print(error.path, error.param)  # gst.keras model
    print(error)  # gst.keras: not a Keras model file: pass a .keras file or a preset folder
    ```
    """

    def __init__(self, path: str | os.PathLike, message: str, param: str = "model"):
        self.path = str(path)
        self.param = param
        self.detail = message
        super().__init__(f"{path}: {message}")


class DataFileError(KerasGSTError, ValueError):
    """An input data file (video, frame folder, list) `path` that cannot be used; `param` is the argument
    that named it, if any.

    Example:

    ```python
    from keras_gst.errors import DataFileError

    error = DataFileError("videos/a.mp4", "is empty (0 bytes): re-download or remove it", param="videos")
    print(error.path, error.param)  # videos/a.mp4 videos
    ```
    """

    def __init__(self, path: str | os.PathLike, message: str, param: str | None = None):
        self.path = str(path)
        self.param = param
        self.detail = message
        super().__init__(f"{path}: {message}")
