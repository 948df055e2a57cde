"""argparse value types that reject impossible values at parse time: argparse then prints
`keras-gst CMD: error: argument --frames: must be an integer >= 1, got '0'` and exits with status 2,
before any model or data is touched."""

import argparse

from keras_gst.checks import SIZE_RANGE


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


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0, low_open=True)
non_negative_float = _number(float, 0)
unit_fraction = _number(float, 0, 1, low_open=True)  # (0, 1]
open_fraction = _number(float, 0, 1, low_open=True, high_open=True)  # (0, 1)
dropout_rate = split_share = _number(float, 0, 1, high_open=True)  # [0, 1)
jpeg_quality = _number(int, 0, 100)
frame_size = _number(int, *SIZE_RANGE)  # frame height = width (the network downsamples 32x)
