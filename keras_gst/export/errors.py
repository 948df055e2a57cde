"""The export checks' own errors (no TensorFlow import: the command line catches them without loading it)."""

from __future__ import annotations

from collections.abc import Iterable


class ParityError(AssertionError):
    """An exported model disagrees with the Keras model beyond the tolerance; `report` has the numbers
    (`export_model` also sets `result`, its `ExportResult`).

    Example:

    ```python
    from keras_gst.export import ParityError

    error = ParityError("max abs logit diff 0.5 > tolerance 0.001", {"max_abs_diff": 0.5, "passed": False})
    print(error.report["passed"], isinstance(error, AssertionError))  # False True
    ```
    """

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report
        self.result = None


class OpAuditError(AssertionError):
    """A .tflite file breaks the op policy (float compute op in an int8 model, Flex/custom op).

    `ops` is the full audit, `offending` the ops that broke the policy.

    Example:

    ```python
    from keras_gst.export import OpAuditError
    from keras_gst.export.audit import OpInfo

    conv = OpInfo(0, "CONV_2D", False, ("float32", "float32", "float32"), ("float32",))
    error = OpAuditError("int8 op audit failed: 1 compute ops read float inputs", [conv], [conv])
    print(error.offending[0].name)  # CONV_2D
    ```
    """

    def __init__(self, message: str, ops: Iterable = (), offending: Iterable = ()):
        super().__init__(message)
        self.ops, self.offending = list(ops), list(offending)
