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


class KerasGSTError(Exception):
    """Base class of keras_gst's typed errors."""


class ParameterError(KerasGSTError, ValueError):
    """A bad value (or combination) of the keyword argument `param`."""

    def __init__(self, param: str, message: str):
        self.param = param
        self.detail = message
        super().__init__(f"{param}: {message}")


class ModelFileError(KerasGSTError, ValueError):
    """A model file or directory `path` that cannot be loaded or trusted; the message says what to do."""

    def __init__(self, path: str, message: str, param: str = "model"):
        self.path = str(path)
        self.param = param
        self.detail = message
        super().__init__(f"{path}: {message}")


class DataFileError(KerasGSTError, ValueError):
    """An input data file (video, frame folder, list) `path` that cannot be used."""

    def __init__(self, path: str, message: str, param: str | None = None):
        self.path = str(path)
        self.param = param
        self.detail = message
        super().__init__(f"{path}: {message}")
