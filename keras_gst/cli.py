"""`keras-gst` command line: one entry point, one module per subcommand.

Each module listed in ``COMMANDS`` defines ``register(subparsers)``, which adds its subparser and sets
``func`` (called with the parsed ``argparse.Namespace``, returning an exit code or None). Registering
imports no TensorFlow / Keras (commands import them inside ``run``), so ``--help`` and argument errors
are instant.

TensorFlow's C++ runtime logs through Abseil, which writes every message to the process's stderr
before ``absl::InitializeLog()`` (never called from Python), whatever ``TF_CPP_MIN_LOG_LEVEL`` says: the
oneDNN banner, "failed call to cuInit" without a GPU, grappler and rendezvous notes. By default the CLI
drops those lines (Abseil/glog-formatted INFO, WARNING and ERROR lines written to file descriptor 2) and
keeps everything else; ``keras-gst --verbose CMD`` shows them.
"""

import argparse
import importlib
import logging
import os
import re
import sys
import threading

COMMANDS = [
    "keras_gst.commands.info",
    "keras_gst.commands.bench",
    "keras_gst.commands.convert_torch",
    "keras_gst.commands.extract_frames",
    "keras_gst.commands.shard",
    "keras_gst.commands.train",
    "keras_gst.commands.eval",
    "keras_gst.commands.analyze_bn",
    "keras_gst.commands.explain",
    "keras_gst.commands.export",
    "keras_gst.commands.predict",
    "keras_gst.commands.stream",
]
VERBOSE_HELP = "show TensorFlow / Abseil / gRPC runtime logs (hidden by default)"

# "I0000 00:00:1796216093.259119    6692 port.cc:153] ..." (Abseil / glog prefix; F = fatal is kept), the
# Abseil notice before it, and the second line of TF's CPU feature banner.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags)"
)
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2"}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-gst",
        description="GST (Grouped Spatial-Temporal aggregation) video models for Keras 3.",
    )
    parser.add_argument("--verbose", dest="show_logs", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    for sub in subparsers.choices.values():  # `keras-gst CMD ... --verbose` too (not `train`: there it is Keras')
        if "--verbose" not in sub._option_string_actions:
            sub.add_argument("--verbose", dest="show_logs", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


class NativeLogFilter:
    """Route file descriptor 2 through a pipe; a thread forwards every line but `NATIVE_LOG_LINE`s to
    the real stderr. Python's `sys.stderr` writes to the real stderr directly."""

    def __init__(self):
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


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def quiet_runtime_logs():
    """Defaults that silence TensorFlow's Python loggers and native runtime logs; returns the
    `NativeLogFilter` (call `close()`), or None when fd 2 cannot be redirected."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return NativeLogFilter()
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (e.g. an embedded interpreter)
        return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    log_filter = None if args.show_logs else quiet_runtime_logs()
    try:
        code = args.func(args)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM where a command turns it into keras_gst.atomic.Interrupted
        print(str(e) or "interrupted", file=sys.stderr, flush=True)
        return getattr(e, "exit_code", 130)
    except OSError as e:  # a full disk, a read-only folder: the message names the file or folder
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        if log_filter is not None:
            log_filter.close()
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
