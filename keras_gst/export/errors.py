"""The export checks' own errors (no TensorFlow import: the command line catches them without loading it)."""


class ParityError(AssertionError):
    """An exported model disagrees with the Keras model beyond the tolerance; `report` has the numbers
    (`export_model` also sets `result`, its `ExportResult`)."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report
        self.result = None


class OpAuditError(AssertionError):
    """A .tflite file breaks the op policy (float compute op in an int8 model, Flex/custom op).

    `ops` is the full audit, `offending` the ops that broke the policy.
    """

    def __init__(self, message, ops=(), offending=()):
        super().__init__(message)
        self.ops, self.offending = list(ops), list(offending)
