"""Horizontal-flip label maps: classes whose names are mirror images ('left' <-> 'right')."""

import re
from collections.abc import Iterable, Sequence

from keras_gst.data.annotations.records import names_to_index

_SWAPS = {"left": "right", "right": "left", "clockwise": "counterclockwise",
          "counterclockwise": "clockwise", "anticlockwise": "clockwise"}
_DIRECTION_WORD = re.compile(r"\b(left|right|clockwise|counterclockwise|anticlockwise)\b", re.IGNORECASE)


def _mirror_name(name):
    def swap(m):
        word = _SWAPS[m.group(0).lower()]
        return word.capitalize() if m.group(0)[0].isupper() else word

    return _DIRECTION_WORD.sub(swap, name)


def derive_flip_map(class_names: Sequence[str]) -> tuple[dict[int, int], list[str]]:
    """Label map for horizontal flips: classes whose names are mirror images ('left' <-> 'right',
    'clockwise' <-> 'counterclockwise'). Returns ``(flip_map, unpaired)``: a symmetric dict and the names
    that mention a direction but have no mirror class (a flip would make their label wrong).

    Example:

    ```python
    from keras_gst.data import derive_flip_map

    flip_map, unpaired = derive_flip_map([
        "Pushing something from left to right",
        "Pushing something from right to left",
        "Turning something clockwise",
        "Dropping something",
    ])
    print(flip_map, unpaired)  # {0: 1, 1: 0} ['Turning something clockwise']
    ```
    """
    index = names_to_index(class_names)
    flip_map, unpaired = {}, []
    for i, name in enumerate(class_names):
        if not _DIRECTION_WORD.search(name):
            continue
        j = index.get(_mirror_name(name))
        if j is None or j == i:
            unpaired.append(name)
        else:
            flip_map[i] = j
    return flip_map, unpaired


def pairs_to_map(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """((a, b), ...) -> symmetric dict (a flip map: label a becomes b and b becomes a).

    Example:

    ```python
    from keras_gst.data import SSV2_FLIP_PAIRS, pairs_to_map

    print(pairs_to_map([(86, 87)]))  # {86: 87, 87: 86}
    print(len(pairs_to_map(SSV2_FLIP_PAIRS)))  # 6
    ```
    """
    flip_map = {}
    for a, b in pairs:
        flip_map[a], flip_map[b] = b, a
    return flip_map
