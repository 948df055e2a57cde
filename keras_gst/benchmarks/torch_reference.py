"""PyTorch reference of GST-ResNet, written from the authors' code as described in docs/paper.md ("The GST bottleneck").

Independent of keras_gst (it imports torch only; install it with `pip install "keras-gst[torch]"`): the
converter's parity tests compare against it, and `keras-gst bench inference` times it for the PyTorch rows. Module and parameter
names reproduce the authors' checkpoints (chenxuluo/GST-video, saved by their main.py from a
``DataParallel(TemporalModel)``): ``module.base_model.conv1.weight``, ``module.base_model.layer1.0.conv2.weight``,
``...layer1.0.Tconv.weight``, ``...layer1.0.downsample.0.weight``, ``module.new_fc.weight``, BatchNorm3d
``weight/bias/running_mean/running_var/num_batches_tracked``.

Differences from the authors' code, on purpose:
- alpha/beta are fractions (alpha=0.25, beta=0.5) like keras_gst; the authors pass integers 4 and 2.
- the per-frame pool is a global average (``AdaptiveAvgPool2d(1)``); the authors' ``AvgPool2d(7)`` is the
  same thing only at 224x224 input, and the tests run at 64x64.

Also here: ``TorchvisionResNet``, a plain 2D ResNet whose ``state_dict`` keys are torchvision's
(``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``, ``fc.*``), to test the ImageNet import without
torchvision (which cannot be installed next to torch 2.13 here).
"""

import torch
import torch.nn as nn

DEPTHS = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
}


def split_channels(planes, alpha, beta):
    """(spatial_in, spatial_out, temporal_in, temporal_out) of a GST 3x3 unit with `planes` channels.

    beta=1/2: the spatial path reads the first half, the temporal path the second half.
    beta=1 (GST-Large): both read all channels.
    """
    if beta not in (0.5, 1.0):
        raise ValueError(f"beta must be 0.5 or 1.0. Received: beta={beta}")
    t_out = int(round(planes * alpha))
    s_out = planes - t_out
    s_in = int(round(planes * beta))
    t_in = planes if beta == 1.0 else planes - s_in
    return s_in, s_out, t_in, t_out


class GSTBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, alpha, beta, stride=1, downsample=None):
        super().__init__()
        s_in, s_out, t_in, t_out = split_channels(planes, alpha, beta)
        self.s_in, self.beta = s_in, beta
        self.conv1 = nn.Conv3d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(s_in, s_out, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                               padding=(0, 1, 1), bias=False)
        self.Tconv = nn.Conv3d(t_in, t_out, kernel_size=3, stride=(1, stride, stride), padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        if self.beta == 1.0:
            spatial, temporal = self.conv2(out), self.Tconv(out)
        else:
            spatial, temporal = self.conv2(out[:, : self.s_in]), self.Tconv(out[:, self.s_in:])
        out = self.relu(self.bn2(torch.cat([spatial, temporal], dim=1)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class GSTResNet(nn.Module):
    """The authors' ``GST.ResNet`` (input (N, C, T, H, W)); output per-frame features (N*T, 2048)."""

    def __init__(self, depth=50, alpha=0.25, beta=0.5):
        super().__init__()
        kind, layers = DEPTHS[depth]
        if kind != "bottleneck":
            raise ValueError("The authors' GST code has bottleneck ResNets only (50, 101).")
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        for i, (planes, n) in enumerate(zip([64, 128, 256, 512], layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(planes, n, alpha, beta, 1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        # TemporalModel replaces base_model.fc by Dropout when dropout > 0 (the released checkpoints).
        self.fc = nn.Dropout(p=0.3)

    def _make_layer(self, planes, blocks, alpha, beta, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * 4, kernel_size=1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(planes * 4),
            )
        layers = [GSTBottleneck(self.inplanes, planes, alpha, beta, stride, downsample)]
        self.inplanes = planes * 4
        layers += [GSTBottleneck(self.inplanes, planes, alpha, beta) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.transpose(1, 2).contiguous()  # (N, T, C, h, w)
        x = x.view((-1,) + x.size()[2:])  # (N*T, C, h, w)
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


class TemporalModel(nn.Module):
    """The authors' ``models.TemporalModel``: ``base_model`` + ``new_fc``, logits averaged over frames.

    Input as the authors feed it: (N, T*3, H, W), frames stacked on the channel axis (frame-major).
    """

    def __init__(self, num_classes, num_segments, depth=50, alpha=0.25, beta=0.5):
        super().__init__()
        self.num_segments = num_segments
        self.base_model = GSTResNet(depth, alpha, beta)
        self.new_fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = x.view((-1, self.num_segments, 3) + x.size()[-2:]).transpose(1, 2).contiguous()
        out = self.new_fc(self.base_model(x))
        return out.view((-1, self.num_segments) + out.size()[1:]).mean(dim=1)


def clip_to_torch(clip):
    """(B, T, H, W, 3) channels-last array -> the authors' (B, T*3, H, W) float tensor."""
    x = torch.as_tensor(clip, dtype=torch.float32)
    b, t, h, w, c = x.shape
    return x.permute(0, 1, 4, 2, 3).reshape(b, t * c, h, w).contiguous()


def authors_checkpoint(model, epoch=70, arch="resnet50", best_prec1=47.0):
    """The dict the authors' main.py saves: state_dict of ``DataParallel(model)`` (keys ``module.*``)."""
    state = nn.DataParallel(model).state_dict()
    return {"epoch": epoch, "arch": arch, "state_dict": state, "best_prec1": best_prec1}


def _closes_residual_branch(model, name):
    """True for bn3 of a bottleneck and bn2 of a basic block."""
    if "layer" not in name or "downsample" in name:
        return False
    parent = model.get_submodule(name.rsplit(".", 1)[0])
    return name.endswith(".bn3") or (name.endswith(".bn2") and not hasattr(parent, "conv3"))


@torch.no_grad()
def randomize_(model, seed=0):
    """Give every parameter and BN statistic a random, non-trivial value (stays numerically tame)."""
    g = torch.Generator().manual_seed(seed)

    def rand(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            fan_in = m.weight[0].numel()
            gain = 1.0 if isinstance(m, nn.Linear) else 2.0
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (gain / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            n = m.num_features
            # The BN closing a residual branch gets a small gamma, as in trained ResNets: keeps the
            # residual stream of a deep random net from growing block after block.
            last = _closes_residual_branch(model, name)
            m.weight.copy_(rand(n, 0.1, 0.4) if last else rand(n, 0.5, 1.5))
            m.bias.copy_(torch.randn(n, generator=g) * (0.05 if last else 0.2))
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(rand(n, 0.5, 2.0))
            m.num_batches_tracked.fill_(int(torch.randint(1, 10000, (1,), generator=g)))
    return model


@torch.no_grad()
def calibrate_bn_(model, x, seed=0):
    """Set BN running stats to the batch statistics of input `x`, perturbed at random per channel.

    Keeps activations of a deep random network well scaled (pure random statistics make a ResNet-50's
    logits explode or vanish) while the statistics stay non-trivial and differ from channel to channel.
    """
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d))]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one pass = exact batch statistics
    was_training = model.training
    model.train()
    model(x)
    model.train(was_training)
    for m in bns:
        n = m.num_features
        m.momentum = 0.1
        m.running_mean.add_(torch.randn(n, generator=g) * 0.1 * m.running_var.sqrt())
        m.running_var.mul_(torch.rand(n, generator=g) * 1.0 + 0.5)
        m.num_batches_tracked.fill_(int(torch.randint(1, 10000, (1,), generator=g)))
    return model


# ---------------------------------------------------------------------------------------------------
# torchvision-named plain 2D ResNets (ImageNet state_dict layout)


class BasicBlock2D(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck2D(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchvisionResNet(nn.Module):
    """torchvision.models.resnet{18,34,50,101} key names and shapes (ResNet v1.5)."""

    def __init__(self, depth=50, num_classes=1000):
        super().__init__()
        kind, layers = DEPTHS[depth]
        block = BasicBlock2D if kind == "basic" else Bottleneck2D
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (planes, n) in enumerate(zip([64, 128, 256, 512], layers)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion),
                )
            blocks = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            blocks += [block(self.inplanes, planes) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))
