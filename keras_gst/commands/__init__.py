"""Subcommands of `keras-gst` (see `keras_gst.cli`). Registering a command imports no TensorFlow."""

import argparse


def add_hidden_alias(parser, *names, dest, **kwargs):
    """Accept an old spelling of a flag (same `dest`) without listing it in --help."""
    parser.add_argument(*names, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def error_line(prog, error, flags):
    """`PROG: error: argument --flag: detail` for a keras_gst typed error (`keras_gst.errors`) whose `param`
    is a key of `flags` (the command's keyword -> flag table), else `PROG: error: message`. The message
    text is never rewritten; a file error keeps the file's name."""
    flag = flags.get(getattr(error, "param", None))
    if flag is None:
        return f"{prog}: error: {error}"
    return f"{prog}: error: argument {flag}: {error if hasattr(error, 'path') else error.detail}"
