"""PyTorch weights -> keras_gst: the authors' GST checkpoints and torchvision ImageNet ResNets.

Two sources are recognised from the tensors themselves:

- **authors**: a checkpoint of chenxuluo/GST-video as their `main.py` saves it,
  `{'epoch', 'arch', 'state_dict', 'best_prec1'}`, the state_dict of a `DataParallel(TemporalModel)`
  (keys `module.base_model.layer1.0.conv2.weight`, `...Tconv.weight`, `module.new_fc.weight`), or that
  state_dict bare, with or without the `module.` / `base_model.` prefixes. Every tensor is mapped:

  | torch key (after the prefixes)            | keras_gst weight                                   |
  |-------------------------------------------|----------------------------------------------------|
  | `conv1.weight` (64, 3, 1, 7, 7)           | `stem` `kernel` (7, 7, 3, 64)                      |
  | `bn1.*`                                   | `stem` sublayer `bn`                               |
  | `layer{i+1}.{j}.conv1/bn1`                | `stack{i}_block{j}_1` `kernel` / `bn`              |
  | `layer{i+1}.{j}.conv2.weight` (1x3x3)     | `stack{i}_block{j}_2` `spatial_kernel`             |
  | `layer{i+1}.{j}.Tconv.weight` (3x3x3)     | `stack{i}_block{j}_2` `temporal_kernel`            |
  | `layer{i+1}.{j}.bn2.*`                    | `stack{i}_block{j}_2` sublayer `bn`                |
  | `layer{i+1}.{j}.conv3/bn3`                | `stack{i}_block{j}_3` `kernel` / `bn`              |
  | `layer{i+1}.{j}.downsample.0/1`           | `stack{i}_block{j}_0` `kernel` / `bn`              |
  | `new_fc.*` (or `fc.*` if trained without dropout) | `frame_logits` (per-frame Dense)           |

  Conv3d kernels (out, in, t, h, w) become (t, h, w, in, out); (1, h, w) kernels become per-frame
  (h, w, in, out); Linear (out, in) becomes (in, out). BatchNorm: weight, bias, running_mean, running_var ->
  gamma, beta, moving_mean, moving_variance (both use eps 1e-5); `num_batches_tracked` is read and dropped.

- **torchvision**: an ImageNet `resnet18/34/50/101` state_dict (`conv1.weight`, `layer1.0.conv1.weight`,
  ..., `fc.*`). Mapped exactly as the authors initialise GST (their `GST.resnet50`): 2D kernels copied
  into the per-frame convolutions; the 3x3 kernel of a GST unit sliced to its first (1-alpha)*filters
  outputs and first beta*Cin inputs (the temporal kernel keeps its initialisation); the unit's BN takes the
  full ImageNet BN; `fc.*` (ImageNet classes) is skipped. Baseline units follow
  `keras_gst.weights.imagenet` (same rules as the keras-hub ImageNet path).

Every key must be accounted for: unexpected keys, missing keys and shape mismatches raise one
`ValueError` that names each of them, before any weight of the model is changed. Files are read with
`torch.load(..., weights_only=True)` (tensors and plain containers only, no code is unpickled).
"""

import dataclasses
import os
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from keras_gst.layers.gst_block import C2DBlock, C3DBlock, GSTBlock, P3DBlock
from keras_gst.models.specs import RESNET_SPECS, block_specs

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
MAX_LISTED = 40  # problems listed in one error message
_BN_FIELDS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance"))


@dataclasses.dataclass
class ConversionReport:
    """What `load_torch_weights` did."""

    source: str  # "authors" or "torchvision"
    loaded: list  # torch keys whose values are now in the model (original spelling)
    dropped: list  # torch keys read but not needed: num_batches_tracked, ImageNet fc, head if skipped
    kept_init: list  # keras weights left as initialised (e.g. GST temporal kernels on ImageNet init)
    meta: dict  # checkpoint fields other than the state_dict (epoch, arch, best_prec1)

    def __str__(self):
        lines = [
            f"source: {self.source}",
            f"loaded {len(self.loaded)} tensors; dropped {len(self.dropped)} "
            f"({_summarise(self.dropped)}); kept initialised: {len(self.kept_init)} weights",
        ]
        if self.meta:
            lines.append("checkpoint: " + ", ".join(f"{k}={v}" for k, v in self.meta.items()))
        return "\n".join(lines)


def _summarise(keys):
    kinds = {}
    for key in keys:
        kind = key.rsplit(".", 1)[-1] if key.endswith("num_batches_tracked") else key
        kinds[kind] = kinds.get(kind, 0) + 1
    items = [f"{k} x{n}" if n > 1 else k for k, n in kinds.items()]
    return ", ".join(items[:6]) + (", ..." if len(items) > 6 else "") if items else "none"


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


def _canonical_keys(state):
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


def _fraction(x):
    return str(Fraction(x).limit_denominator(64))


def inspect_checkpoint(path_or_state_dict):
    """Describe a checkpoint without building a model: source, depth, alpha, beta, num_classes, meta.

    For the authors' checkpoints alpha and beta are read from the first GST unit's kernel shapes.
    """
    state, meta = read_checkpoint(path_or_state_dict)
    return describe_state(state, meta)


def describe_state(state, meta=None):
    """`inspect_checkpoint` for a state already read by `read_checkpoint`."""
    canonical, source, _ = _canonical_keys(state)

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


class _Plan:
    """Expected torch tensors for a model: key -> (expected shape, keras variable, transform)."""

    def __init__(self, source):
        self.source = source
        self.entries = {}
        self.optional = set()  # keys that may be absent (num_batches_tracked, old torchvision files)
        self.dropped = set()  # keys that may be present and are ignored
        self.kept_init = []
        self.unit_loads = []  # torchvision: (unit, 2D kernel key, bn prefix) handed to imagenet.load_unit_2d

    def add(self, key, torch_shape, variable, transform):
        self.entries[key] = (tuple(torch_shape), variable, transform)

    def conv2d(self, key, variable):
        """A per-frame conv: keras (kh, kw, in, out) <- authors (out, in, 1, kh, kw) / torchvision (out, in, kh, kw)."""
        kh, kw, cin, cout = variable.shape
        if self.source == "authors":
            self.add(key, (cout, cin, 1, kh, kw), variable, lambda a: a[:, :, 0].transpose(2, 3, 1, 0))
        else:
            self.add(key, (cout, cin, kh, kw), variable, lambda a: a.transpose(2, 3, 1, 0))

    def conv3d(self, key, variable):
        kt, kh, kw, cin, cout = variable.shape
        self.add(key, (cout, cin, kt, kh, kw), variable, lambda a: a.transpose(2, 3, 4, 1, 0))

    def bn(self, prefix, layer):
        n = layer.gamma.shape[0]
        for torch_name, keras_name in _BN_FIELDS:
            self.add(f"{prefix}.{torch_name}", (n,), getattr(layer, keras_name), lambda a: a)
        self.dropped.add(f"{prefix}.num_batches_tracked")
        self.optional.add(f"{prefix}.num_batches_tracked")


def _plan(model, source, include_head):
    """The expected tensors of `model` (a `GSTVideoClassifier` or `GSTBackbone`), walking the topology of
    `keras_gst.models.specs`: torch `layer{i+1}.{j}.conv{k}` / `bn{k}` (`downsample.0` / `.1` for the
    shortcut) is Keras `stack{i}_block{j}_{k}`."""
    backbone = model.backbone if hasattr(model, "backbone") else model
    if source == "authors" and backbone.block == "gst" and RESNET_SPECS[backbone.depth][0] != "bottleneck":
        raise ValueError("The authors' GST code has bottleneck ResNets only (50, 101); this model is "
                         f"a basic-block ResNet-{backbone.depth}.")
    plan = _Plan(source)

    def conv_bn(conv_key, bn_key, layer):
        plan.conv2d(f"{conv_key}.weight", layer.kernel)
        plan.bn(bn_key, layer.bn)

    conv_bn("conv1", "bn1", backbone.get_layer("stem"))
    for spec in block_specs(backbone.depth):
        prefix = spec.torch_prefix
        for conv in spec.convs:
            layer = backbone.get_layer(conv.name)
            if conv.kind == "shortcut":
                conv_bn(f"{prefix}.downsample.0", f"{prefix}.downsample.1", layer)
            elif conv.kind == "pointwise":
                conv_bn(f"{prefix}.conv{conv.index}", f"{prefix}.bn{conv.index}", layer)
            else:
                _plan_unit(plan, layer, prefix, conv.index, source)
    head = model.get_layer("frame_logits") if hasattr(model, "backbone") else None
    if head is not None and source == "authors" and include_head:
        feat, classes = head.kernel.shape
        plan.add("new_fc.weight", (classes, feat), head.kernel, lambda a: a.T)
        plan.add("new_fc.bias", (classes,), head.bias, lambda a: a)
    else:
        if head is not None:
            plan.kept_init += [head.kernel.path, head.bias.path]
        plan.dropped |= {"new_fc.weight", "new_fc.bias", "fc.weight", "fc.bias"}
        plan.optional |= {"new_fc.weight", "new_fc.bias", "fc.weight", "fc.bias"}
    return plan


def _plan_unit(plan, unit, prefix, index, source):
    """One 3x3 unit: the authors' GST (conv2 + Tconv + bn2), or a torchvision 3x3 conv + BN to inflate."""
    key, bn = f"{prefix}.conv{index}.weight", f"{prefix}.bn{index}"
    if source == "authors":
        if not isinstance(unit, GSTBlock):
            raise ValueError(
                f"The authors' checkpoints hold GST models; {unit.name} is a {type(unit).__name__}. "
                f"Build the model with block='gst'."
            )
        kh, kw, cin, cout = unit.spatial_kernel.shape
        plan.add(key, (cout, cin, 1, kh, kw), unit.spatial_kernel, lambda a: a[:, :, 0].transpose(2, 3, 1, 0))
        plan.conv3d(f"{prefix}.Tconv.weight", unit.temporal_kernel)
        plan.bn(bn, unit.bn)
        return
    if not isinstance(unit, (GSTBlock, C2DBlock, C3DBlock, P3DBlock)):
        raise ValueError(f"{unit.name}: no ImageNet mapping for {type(unit).__name__}.")
    plan.add(key, (unit.filters, _unit_input_channels(unit), 3, 3), None, None)
    for torch_name, _ in _BN_FIELDS:
        plan.add(f"{bn}.{torch_name}", (unit.filters,), None, None)
    plan.dropped.add(f"{bn}.num_batches_tracked")
    plan.optional.add(f"{bn}.num_batches_tracked")
    plan.unit_loads.append((unit, key, bn))
    plan.kept_init += _imagenet_kept_init(unit)


def _unit_input_channels(unit):
    if isinstance(unit, GSTBlock):
        cin_s, cin_t = unit.spatial_kernel.shape[2], unit.temporal_kernel.shape[3]
        return cin_s if unit.beta == 1.0 else cin_s + cin_t
    if isinstance(unit, C3DBlock):
        return unit.kernel.shape[3] * unit.groups
    kernel = unit.spatial_kernel if hasattr(unit, "spatial_kernel") else unit.kernel
    return kernel.shape[2]


def _imagenet_kept_init(unit):
    if isinstance(unit, GSTBlock):
        return [unit.temporal_kernel.path]
    if isinstance(unit, P3DBlock):
        return [unit.temporal_kernel.path] + [w.path for w in unit.bn.weights]
    return []


def _authors_fc_alias(canonical, plan):
    """A model trained with dropout=0 has its classifier at base_model.fc instead of new_fc."""
    if "new_fc.weight" not in canonical and "fc.weight" in canonical and "new_fc.weight" in plan.entries:
        for field in ("weight", "bias"):
            plan.entries[f"fc.{field}"] = plan.entries.pop(f"new_fc.{field}")


def load_torch_weights(model, path_or_state_dict, include_head=True):
    """Fill a keras_gst `GSTVideoClassifier` (or a `GSTBackbone`, head keys dropped) from a PyTorch
    checkpoint; returns a `ConversionReport`.

    Args:
        model: a built keras_gst model (e.g. `keras_gst.GSTResNet50(174, weights=None)`).
        path_or_state_dict: a .pth/.pt path, the authors' checkpoint dict, or a bare state_dict (torch
            tensors or NumPy arrays), either the authors' GST or a torchvision ImageNet ResNet.
        include_head: load the authors' classifier (`new_fc`) into `frame_logits`. False keeps the
            model's own head (fine-tuning on other classes). The torchvision `fc` is never loaded.

    Raises:
        ValueError naming every unexpected, missing and shape-mismatched key; the model is unchanged then.
        ImportError if a path is given and PyTorch is not installed.
    """
    state, meta = read_checkpoint(path_or_state_dict)
    canonical, source, spell = _canonical_keys(state)
    plan = _plan(model, source, include_head)
    if source == "authors":
        _authors_fc_alias(canonical, plan)
        _check_gst_config(model, state, canonical)
    problems = []
    for key in canonical:
        if key not in plan.entries and key not in plan.dropped:
            problems.append(f"unexpected key {canonical[key]!r} {tuple(state[canonical[key]].shape)}")
    for key, (shape, _, _) in plan.entries.items():
        if key not in canonical:
            if key not in plan.optional:
                problems.append(f"missing key {spell(key)!r} (expected shape {shape})")
        elif tuple(state[canonical[key]].shape) != shape:
            problems.append(
                f"shape mismatch for {canonical[key]!r}: checkpoint {tuple(state[canonical[key]].shape)}, "
                f"model expects {shape}"
            )
    if problems:
        raise ValueError(
            f"Cannot load the {source} checkpoint ({_describe_short(state)}) into {model.name} "
            f"({_describe_model(model)}): {len(problems)} problem(s):\n  " + "\n  ".join(problems[:MAX_LISTED])
            + (f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else "")
        )

    for key, (_, variable, transform) in plan.entries.items():
        if variable is not None:
            value = transform(state[canonical[key]])
            variable.assign(np.asarray(value, dtype=variable.dtype))
    if plan.unit_loads:
        from keras_gst.weights.imagenet import load_unit_2d

        for unit, conv_key, bn_prefix in plan.unit_loads:
            kernel = state[canonical[conv_key]].transpose(2, 3, 1, 0)
            bn = [state[canonical[f"{bn_prefix}.{name}"]] for name, _ in _BN_FIELDS]
            load_unit_2d(unit, kernel, bn)
    loaded = [canonical[k] for k in plan.entries if k in canonical]
    dropped = [canonical[k] for k in canonical if k not in plan.entries]
    return ConversionReport(source, loaded, dropped, plan.kept_init, meta)


def _describe_short(state):
    try:
        info = describe_state(state, {})
    except Exception:  # a description is a courtesy; the problems list is the error
        return "unrecognised layout"
    parts = [f"ResNet-{info['depth']}" if info["depth"] else f"{info['block_type']} blocks {info['blocks']}"]
    if "alpha" in info:
        parts.append(f"alpha={_fraction(info['alpha'])}, beta={_fraction(info['beta'])}")
    if info.get("num_classes"):
        parts.append(f"{info['num_classes']} classes")
    return ", ".join(parts)


def _describe_model(model):
    parts = [f"ResNet-{getattr(model, 'depth', '?')}", f"block={getattr(model, 'block', '?')}"]
    if getattr(model, "block", None) == "gst":
        parts.append(f"alpha={_fraction(model.alpha)}, beta={_fraction(model.beta)}")
    if hasattr(model, "num_classes"):
        parts.append(f"{model.num_classes} classes")
    return ", ".join(parts)


def _check_gst_config(model, state, canonical):
    """A clear message when alpha/beta of the checkpoint and the model differ (instead of 16 shape errors)."""
    info = describe_state(state, {})
    alpha, beta = info.get("alpha"), info.get("beta")
    if alpha is None or getattr(model, "alpha", None) is None:
        return
    if abs(alpha - model.alpha) > 1e-6 or abs(beta - model.beta) > 1e-6:
        raise ValueError(
            f"The checkpoint is GST alpha={_fraction(alpha)}, beta={_fraction(beta)}"
            f"{' (GST-Large)' if beta == 1.0 else ''}; the model has alpha={_fraction(model.alpha)}, "
            f"beta={_fraction(model.beta)}. Build the model with the checkpoint's alpha and beta."
        )
