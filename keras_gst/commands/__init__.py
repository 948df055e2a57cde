"""Subcommands of `keras-gst` (see `keras_gst.cli`). Registering a command imports no TensorFlow."""

import argparse


def add_hidden_alias(parser, *names, dest, **kwargs):
    """Accept an old spelling of a flag (same `dest`) without listing it in --help."""
    parser.add_argument(*names, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
