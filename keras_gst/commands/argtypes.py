"""argparse value types that reject impossible values at parse time: argparse then prints
`keras-gst CMD: error: argument --frames: must be an integer >= 1, got '0'` and exits with status 2,
before any model or data is touched. `checked` makes a type from a library check, so a flag's range is
the library's own (e.g. `--alpha`: `keras_gst.layers.unit_args.check_alpha`, the GST unit's)."""

import argparse

from keras_gst.checks import SIZE_RANGE
from keras_gst.errors import ParameterError


def _number(kind, low=None, high=None, low_open=False, high_open=False):
    word = "an integer" if kind is int else "a number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    wanted = f"{word} {' and '.join(bounds)}".strip()

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if value != value or (low is not None and (value < low or (low_open and value == low))) or (
                high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = wanted
    return parse


def checked(check, kind=float):
    """An argparse type: `kind(text)`, then `check(value)` (a keras_gst check that returns the value or
    raises `ParameterError`), whose message becomes argparse's."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        try:
            return check(value)
        except ParameterError as e:
            raise argparse.ArgumentTypeError(e.detail) from None

    parse.__name__ = check.__name__
    return parse


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0, low_open=True)
non_negative_float = _number(float, 0)
unit_fraction = _number(float, 0, 1, low_open=True)  # (0, 1]
dropout_rate = split_share = _number(float, 0, 1, high_open=True)  # [0, 1)
jpeg_quality = _number(int, 0, 100)
frame_size = _number(int, *SIZE_RANGE)  # frame height = width (the network downsamples 32x)
