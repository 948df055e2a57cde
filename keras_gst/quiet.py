"""Quiet runtime: hide the native runtime logs of TensorFlow, TFLite and gRPC, keep everything else.

TensorFlow's C++ runtime logs through Abseil, which writes every message to the process's stderr before
``absl::InitializeLog()`` (never called from Python), whatever ``TF_CPP_MIN_LOG_LEVEL`` says: the oneDNN
banner, "failed call to cuInit" without a GPU, grappler notes ("remapper failed"). The TFLite converter
prints its quantizer settings ("fully_quantize: 0, inference_type: 6, ...") and the TFLite runtime an
"INFO: Created TensorFlow Lite XNNPACK delegate" line, to file descriptor 2 as well. Apache Beam's
DirectRunner worker processes (`keras-gst shard`) log "WARNING:root:apitools not found, ..." and
"INFO:__main__:Logging handler created." from their own interpreters. None of these go through this
process's Python, so only a filter on the file descriptor can drop them.

`quiet_runtime_logs()` is what the ``keras-gst`` command (unless ``--verbose``) and the recipes run.
Standard library only (the CLI runs it before importing TensorFlow).

Example:

```python
from keras_gst.quiet import quiet_runtime_logs

with quiet_runtime_logs():
    ...  # TensorFlow work; our own prints and Python warnings still reach stderr
```
"""

import logging
import os
import re
import sys
import threading

# Lines written by native code to file descriptor 2 that are dropped; a fatal "F0000 ..." line is kept.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] "  # Abseil / glog: "I0000 00:00:1796216093.259119  6692 port.cc:153] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    rb"|fully_quantize: \d+, inference_type: \d+, input_inference_type: "  # the TFLite quantizer's settings
    rb"|INFO: Created TensorFlow Lite \w+ delegate for CPU\.$"  # the TFLite runtime's XNNPACK note
    rb"|INFO: Initialized TensorFlow Lite runtime\.$"
    # Beam's DirectRunner worker processes (`keras-gst shard`): the Python logging of a fresh interpreter
    rb"|WARNING:root:apitools not found, and bigquery client libraries are not available"
    rb"|INFO:__main__:Logging handler created\.$)"
)
# Environment defaults read by TensorFlow and gRPC when they load (set before importing TensorFlow).
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2"}


class NativeLogFilter:
    r"""Route file descriptor 2 through a pipe; a thread forwards every line but `NATIVE_LOG_LINE`s to the
    real stderr. Python's `sys.stderr` writes to the real stderr directly. A context manager; `close()`
    restores file descriptor 2.

    Example:

    ```python
    import os

    from keras_gst.quiet import NativeLogFilter

    with NativeLogFilter():
        # what TensorFlow's C++ runtime writes: dropped
        os.write(2, b"I0000 00:00:1796216093.259119  6692 port.cc:153] oneDNN custom operations are on.\n")
        # any other line written to file descriptor 2: kept
        os.write(2, b"a line of our own\n")
    ```
    """

    def __init__(self) -> None:
        sys.stderr.flush()
        self._stderr = os.dup(2)
        read, self._write = os.pipe()
        os.dup2(self._write, 2)
        self._thread = threading.Thread(target=self._forward, args=(read,), daemon=True)
        self._thread.start()
        self._saved_stream = None
        if _fileno(sys.stderr) == 2:  # Python's own messages skip the filter (not when captured, e.g. pytest)
            self._saved_stream = sys.stderr
            sys.stderr = open(os.dup(self._stderr), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                              errors="backslashreplace")

    def _forward(self, read):
        with open(read, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not NATIVE_LOG_LINE.match(line))
                if kept:
                    os.write(self._stderr, kept)
            if pending and not NATIVE_LOG_LINE.match(pending):
                os.write(self._stderr, pending)

    def close(self):
        """Restore fd 2 and sys.stderr, and forward what is left in the pipe."""
        sys.stderr.flush()
        if self._saved_stream is not None:
            sys.stderr.close()
            sys.stderr = self._saved_stream
        os.dup2(self._stderr, 2)  # the pipe's last writer is now self._write (and any child process)
        os.close(self._write)
        self._thread.join(timeout=2.0)
        os.close(self._stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _NoFilter:
    """Stands in for `NativeLogFilter` where file descriptor 2 cannot be redirected."""

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def quiet_runtime_logs() -> NativeLogFilter | _NoFilter:
    """Set `QUIET_ENVIRONMENT` defaults (a variable already set wins), raise TensorFlow's and absl's Python
    loggers to ERROR, and start a `NativeLogFilter` on file descriptor 2. Returns it (a context manager;
    or a no-op one where fd 2 cannot be redirected, e.g. an embedded interpreter): `close()` it when done.

    Example:

    ```python
    import logging

    from keras_gst.quiet import quiet_runtime_logs

    with quiet_runtime_logs():
        print(logging.getLogger("tensorflow").level == logging.ERROR)  # True
    ```
    """
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return NativeLogFilter()
    except (OSError, ValueError, AttributeError):
        return _NoFilter()
