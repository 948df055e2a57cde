"""The arguments of the convolution units (`keras_gst.layers.gst_block`), checked without Keras.

The units check their arguments with these functions, and so do `keras_gst.models.specs.check_model` (the
whole network before it is built, which the `GSTBackbone` and the training `Recipe` call) and the command
line's argument types (its `checked` argparse type wraps them): each range is written once, here. A check
returns the value or raises `keras_gst.errors.ParameterError` naming the argument. Standard library only.
"""

import numbers

from keras_gst.errors import ParameterError


def _whole(value):
    return abs(value - round(value)) <= 1e-9


def _number(param, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ParameterError(param, f"must be a number, got {value!r}")


def check_alpha(alpha: float, filters=()) -> float:
    """GST's share of temporal output channels: a number in (0, 1) (a GST unit has a spatial and a temporal
    path), and `alpha * f` a whole number of channels for each unit's output channels `f` in `filters`.

    Example:

    ```python
    check_alpha(0.25, filters=(64, 128))  # 16 and 32 temporal channels
    check_alpha(1.0)  # ParameterError: alpha: the GST share of temporal output channels must be in (0, 1), got 1.0
    ```
    """
    _number("alpha", alpha)
    if not 0.0 < alpha < 1.0:
        raise ParameterError("alpha", f"the GST share of temporal output channels must be in (0, 1), got {alpha}")
    for f in filters:
        if not _whole(alpha * f) or round(alpha * f) < 1:
            raise ParameterError("alpha", f"alpha * filters must be a whole number of channels in every unit: "
                                          f"{alpha} x {f} = {alpha * f:g} (a ResNet's units have 64 x 2^k filters: "
                                          f"use a multiple of 1/64, e.g. 0.25 or 0.5)")
    return alpha


def check_beta(beta: float, in_channels=()) -> float:
    """GST's share of input channels read by the spatial path: a number in (0, 1] (1 is GST-Large: both paths
    read every channel); below 1, `beta * c` a whole number strictly between 0 and `c` for each unit's input
    channels `c` in `in_channels`.

    Example:

    ```python
    check_beta(0.5, in_channels=(64,))  # 32 channels each
    check_beta(0.3, in_channels=(64,))  # ParameterError: beta: beta * input channels must be a whole number ...
    ```
    """
    _number("beta", beta)
    if not 0.0 < beta <= 1.0:
        raise ParameterError("beta", f"the GST share of spatial input channels must be in (0, 1], got {beta}")
    for c in in_channels if beta < 1.0 else ():
        if not _whole(beta * c) or not 0 < round(beta * c) < c:
            raise ParameterError("beta", f"beta * input channels must be a whole number of channels in every unit, "
                                         f"between 0 and the channel count: {beta} x {c} = {beta * c:g} (use a "
                                         f"multiple of 1/64, e.g. 0.5, or 1 for GST-Large)")
    return beta


def check_groups(groups: int, channels=()) -> int:
    """C3D-groups' channel groups: a positive integer dividing each channel count in `channels` (every unit's
    input and output channels).

    Example:

    ```python
    check_groups(4, channels=(64, 128))
    check_groups(3, channels=(64,))  # ParameterError: groups: must be a positive integer dividing ...
    ```
    """
    _number("groups", groups)
    bad = [c for c in channels if c % groups] if groups >= 1 else []
    if int(groups) != groups or groups < 1 or bad:
        raise ParameterError("groups", f"must be a positive integer dividing every unit's channels (64 x 2^k in a "
                                       f"ResNet: 1, 2, 4, 8, ...), got {groups}"
                                       + (f": {bad[0]} channels do not split into {groups} groups" if bad else ""))
    return int(groups)
