"""Reading PyTorch checkpoints: a .pth/.pt file or a state_dict -> NumPy arrays, which of the two
layouts `keras_gst.weights.torch_convert` maps it is ("authors" or "torchvision"), and what it holds.

- **authors**: a checkpoint of chenxuluo/GST-video as their `main.py` saves it, `{'epoch', 'arch',
  'state_dict', 'best_prec1'}`, the state_dict of a `DataParallel(TemporalModel)` (keys
  `module.base_model.layer1.0.conv2.weight`, `...Tconv.weight`, `module.new_fc.weight`), or that state_dict
  bare, with or without the `module.` / `base_model.` prefixes.
- **torchvision**: an ImageNet `resnet18/34/50/101` state_dict (`conv1.weight`, `layer1.0.conv1.weight`, ...).

Files are read with `torch.load(..., weights_only=True)` (tensors and plain containers only, no code is
unpickled).
"""

import os
from collections.abc import Mapping

import numpy as np

TORCH_HINT = (
    'Reading PyTorch checkpoints needs PyTorch: pip install "keras-gst[torch]" (it pins torch==2.13.0).'
)

# blocks per stage -> depth, for each block type
_DEPTHS = {
    ("bottleneck", (3, 4, 6, 3)): 50,
    ("bottleneck", (3, 4, 23, 3)): 101,
    ("basic", (2, 2, 2, 2)): 18,
    ("basic", (3, 4, 6, 3)): 34,
}


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(TORCH_HINT) from error
    return torch


def _to_numpy(value):
    if hasattr(value, "detach"):  # a torch.Tensor
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _to_python(value):
    if hasattr(value, "detach"):
        return value.item() if value.numel() == 1 else _to_numpy(value).tolist()
    return value


def read_checkpoint(path_or_state_dict):
    """Load a .pth/.pt file (or take a dict) -> (state: {key: np.ndarray}, meta: {field: value}).

    Accepts the authors' checkpoint dict (tensors under 'state_dict') or a bare state_dict.
    """
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        path = os.fspath(path_or_state_dict)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such PyTorch checkpoint: {path}")
        torch = _import_torch()
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            lines = [line.strip() for line in str(error).splitlines() if "Unsupported global" in line]
            reason = lines[0] if lines else f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            raise ValueError(
                f"{path}: torch.load(weights_only=True) failed ({reason}). keras-gst only reads checkpoints made "
                f"of tensors and plain containers; it never unpickles code. If you trust the file, keep only its "
                f"tensors: torch.save(torch.load(path, weights_only=False)['state_dict'], 'clean.pth')."
            ) from error
    else:
        obj = path_or_state_dict
    if not isinstance(obj, Mapping):
        raise TypeError(f"Expected a state_dict or a checkpoint dict with 'state_dict'. Received: {type(obj).__name__}")
    meta = {}
    if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        meta = {str(k): _to_python(v) for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    state = {}
    for key, value in obj.items():
        if not hasattr(value, "shape"):
            raise ValueError(f"{key}: not a tensor ({type(value).__name__}); is this a state_dict?")
        state[str(key)] = _to_numpy(value)
    if not state:
        raise ValueError("The state_dict is empty.")
    return state, meta


def canonical_keys(state):
    """Strip `module.` (DataParallel) and `base_model.` (TemporalModel).

    Returns ({canonical key: original key}, source, spell) where `spell(canonical)` writes a key the way
    this checkpoint would (for naming missing keys).
    """
    keys = list(state)
    outer = "module." if all(k.startswith("module.") for k in keys) else ""
    keys = [k[len(outer):] for k in keys]
    authors_prefix = any(k.startswith("base_model.") for k in keys)
    canonical = {}
    for original, key in zip(state, keys):
        if key.startswith("base_model."):
            key = key[len("base_model."):]
        if key in canonical:
            raise ValueError(f"Keys {canonical[key]!r} and {original!r} map to the same tensor {key!r}.")
        canonical[key] = original
    conv1 = canonical.get("conv1.weight")
    if conv1 is None:
        raise ValueError(
            "No stem convolution (`conv1.weight`, `base_model.conv1.weight` or `module.base_model.conv1.weight`) "
            f"in the state_dict: not a GST or torchvision ResNet checkpoint. First keys: {list(state)[:5]}"
        )
    ndim = state[conv1].ndim
    if authors_prefix or ndim == 5 or any(".Tconv." in k or k.startswith("new_fc.") for k in canonical):
        source = "authors"
    elif ndim == 4:
        source = "torchvision"
    else:
        raise ValueError(f"{conv1}: a {ndim}-D stem kernel; expected 5-D (GST, Conv3d) or 4-D (torchvision, Conv2d).")

    def spell(key):
        if key in canonical:
            return canonical[key]
        base = "base_model." if authors_prefix and not key.startswith("new_fc.") else ""
        return outer + base + key

    return canonical, source, spell


def inspect_checkpoint(path_or_state_dict):
    """Describe a checkpoint without building a model: source, depth, alpha, beta, num_classes, meta.

    For the authors' checkpoints alpha and beta are read from the first GST unit's kernel shapes.
    """
    state, meta = read_checkpoint(path_or_state_dict)
    return describe_state(state, meta)


def describe_state(state, meta=None):
    """`inspect_checkpoint` for a state already read by `read_checkpoint`."""
    canonical, source, _ = canonical_keys(state)

    def shape(key):
        return state[canonical[key]].shape

    blocks = []
    for stage in range(1, 5):
        n = 0
        while f"layer{stage}.{n}.conv1.weight" in canonical:
            n += 1
        blocks.append(n)
    block_type = "bottleneck" if "layer1.0.conv3.weight" in canonical else "basic"
    depth = _DEPTHS.get((block_type, tuple(blocks)))
    info = {"source": source, "depth": depth, "block_type": block_type, "blocks": blocks, "meta": meta or {}}
    if source == "authors":
        head = "new_fc.weight" if "new_fc.weight" in canonical else "fc.weight"
        info["num_classes"] = shape(head)[0] if head in canonical else None
        if "layer1.0.conv2.weight" in canonical and "layer1.0.Tconv.weight" in canonical:
            s_out, s_in = shape("layer1.0.conv2.weight")[:2]
            t_out, t_in = shape("layer1.0.Tconv.weight")[:2]
            planes = s_out + t_out
            info["alpha"] = t_out / planes
            info["beta"] = 1.0 if s_in == planes and t_in == planes else s_in / planes
    else:
        info["num_classes"] = shape("fc.weight")[0] if "fc.weight" in canonical else None
    return info
