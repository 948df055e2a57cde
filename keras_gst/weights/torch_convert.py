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
  full ImageNet BN; `fc.*` (ImageNet classes) is skipped. Each unit applies its own rule (its `load_2d`,
  the same as on the keras-hub ImageNet path, `keras_gst.weights.imagenet`).

Every key must be accounted for: unexpected keys, missing keys and shape mismatches raise one
`ValueError` that names each of them, before any weight of the model is changed. Reading and recognising
the file is `keras_gst.weights.torch_checkpoint` (`read_checkpoint`, `inspect_checkpoint`, `describe_state`,
importable from here too): `torch.load(..., weights_only=True)`, tensors and plain containers only, no code
is unpickled.
"""

import dataclasses
from fractions import Fraction

import numpy as np

from keras_gst.models.specs import RESNET_SPECS, block_specs
from keras_gst.weights.torch_checkpoint import (
    TORCH_HINT,
    canonical_keys,
    describe_state,
    inspect_checkpoint,
    read_checkpoint,
)

__all__ = ["TORCH_HINT", "ConversionReport", "describe_state", "inspect_checkpoint", "load_torch_weights",
           "read_checkpoint"]

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

def _fraction(x):
    return str(Fraction(x).limit_denominator(64))

class _Plan:
    """Expected torch tensors for a model: key -> (expected shape, keras variable, transform)."""

    def __init__(self, source):
        self.source = source
        self.entries = {}
        self.optional = set()  # keys that may be absent (num_batches_tracked, old torchvision files)
        self.dropped = set()  # keys that may be present and are ignored
        self.kept_init = []  # the head's weights when it is not loaded
        self.unit_loads = []  # torchvision: (unit, 2D kernel key, bn prefix) handed to the unit's load_2d

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
    if source == "authors" and backbone.block != "gst":
        raise ValueError(f"The authors' checkpoints hold GST models; this model has block={backbone.block!r}. "
                         f"Build the model with block='gst'.")
    if source == "authors" and RESNET_SPECS[backbone.depth][0] != "bottleneck":
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
    """One 3x3 unit: the authors' GST (conv2 + Tconv + bn2), or a torchvision 3x3 conv + BN that the unit
    initialises itself from (its `load_2d`)."""
    key, bn = f"{prefix}.conv{index}.weight", f"{prefix}.bn{index}"
    if source == "authors":
        kh, kw, cin, cout = unit.spatial_kernel.shape
        plan.add(key, (cout, cin, 1, kh, kw), unit.spatial_kernel, lambda a: a[:, :, 0].transpose(2, 3, 1, 0))
        plan.conv3d(f"{prefix}.Tconv.weight", unit.temporal_kernel)
        plan.bn(bn, unit.bn)
        return
    plan.add(key, (unit.filters, unit.input_channels, 3, 3), None, None)
    for torch_name, _ in _BN_FIELDS:
        plan.add(f"{bn}.{torch_name}", (unit.filters,), None, None)
    plan.dropped.add(f"{bn}.num_batches_tracked")
    plan.optional.add(f"{bn}.num_batches_tracked")
    plan.unit_loads.append((unit, key, bn))


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
    canonical, source, spell = canonical_keys(state)
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
    kept_init = []  # the units' weights a 2D kernel does not set, then the head's
    for unit, conv_key, bn_prefix in plan.unit_loads:
        kernel = state[canonical[conv_key]].transpose(2, 3, 1, 0)
        bn = [state[canonical[f"{bn_prefix}.{name}"]] for name, _ in _BN_FIELDS]
        kept_init += [variable.path for variable in unit.load_2d(kernel, bn)]
    loaded = [canonical[k] for k in plan.entries if k in canonical]
    dropped = [canonical[k] for k in canonical if k not in plan.entries]
    return ConversionReport(source, loaded, dropped, kept_init + plan.kept_init, meta)


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
