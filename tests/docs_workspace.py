"""The tiny data the docs' commands and snippets run on (tests/test_docs.py), under the names the docs use.

Videos are written with OpenCV: a bright square moving left to right (label 0) or right to left (label 1) on
a noisy background, 12 frames of 96x72 (a model at `--size 64` resizes the short side to 73). A doc that
needs a new input name gets it here.
"""

import json
import os
from pathlib import Path

import numpy as np

FRAMES, WIDTH, HEIGHT = 12, 96, 72
CLASSES = ["moving something from left to right", "moving something from right to left"]
SSV2_TEMPLATES = ["Moving [something] from left to right", "Moving [something] from right to left"]


def write_clip(path, label, seed, fourcc="mp4v"):
    import cv2

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 12, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with {fourcc}")
    y = int(rng.integers(8, HEIGHT - 24))
    for t in range(FRAMES):
        frame = rng.integers(0, 60, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        step = t if label == 0 else FRAMES - 1 - t
        x = 4 + step * (WIDTH - 24) // (FRAMES - 1)
        frame[y:y + 16, x:x + 16] = (230, 200, 40)
        writer.write(frame)
    writer.release()


def make_videos(root):
    # keras-gst train --data my_videos (class folders; 5 clips a class: 4 training, 1 validation)
    for label, name in enumerate(["left_to_right", "right_to_left"]):
        for i in range(5):
            write_clip(root / "my_videos" / name / f"clip{i}.mp4", label, seed=10 * label + i)
    for name in ("clip.mp4", "some_clip.mp4"):
        write_clip(root / name, 0, seed=99)
    # list files (MMAction2 video lists, relative to the list's folder) and class names
    lines = {"train": [], "val": []}
    for i in range(12):
        label, split = i % 2, "train" if i < 8 else "val"
        write_clip(root / "videos" / f"v{i:02d}.mp4", label, seed=100 + i)
        lines[split].append(f"videos/v{i:02d}.mp4 {label}")
    for split, rows in lines.items():
        (root / f"{split}.txt").write_text("\n".join(rows) + "\n")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")


def make_ssv2(root):
    """ssv2/: Something-Something V2's layout (webm videos named by id, JSON splits and labels)."""
    ssv2 = root / "ssv2"
    ssv2.mkdir()
    (ssv2 / "something-something-v2-labels.json").write_text(
        json.dumps({template.replace("[", "").replace("]", ""): str(i) for i, template in enumerate(SSV2_TEMPLATES)}))
    for split, ids in (("train", range(1, 9)), ("validation", range(9, 13))):
        entries = []
        for i in ids:
            label = i % 2
            write_clip(ssv2 / "videos" / f"{i}.webm", label, seed=200 + i, fourcc="VP80")
            entries.append({"id": str(i), "label": "something", "template": SSV2_TEMPLATES[label],
                            "placeholders": ["something"]})
        (ssv2 / f"something-something-v2-{split}.json").write_text(json.dumps(entries))


def make_scores(root):
    """verb_eval/ and noun_eval/scores.npz as `keras-gst eval --output-dir` writes them (same clips)."""
    rng = np.random.default_rng(0)
    for name, classes in (("verb_eval", 5), ("noun_eval", 7)):
        (root / name).mkdir()
        labels = rng.integers(0, classes, 6)
        np.savez(root / name / "scores.npz", scores=rng.normal(size=(6, classes)).astype("float32"), labels=labels)


def make_models(root):
    """gst.keras: a tiny GST-ResNet-18 (2 classes) saved by Keras."""
    import keras_gst

    keras_gst.GSTResNet18(num_classes=2, weights=None).save(root / "gst.keras")


def make_torch_files(root):
    """The PyTorch files of docs/convert.md (random weights, the real layouts): the authors' GST-ResNet-50
    checkpoints (GST and GST-Large, 174 classes), a torchvision ImageNet ResNet-34, the 174 SSv2 labels."""
    import torch

    from keras_gst.benchmarks import torch_reference as torch_gst  # the authors' model layout

    torch.manual_seed(0)
    for name, beta in (("GST_somethingv2_resnet50_segment8_best.pth.tar", 0.5), ("GST_large_v1.pth.tar", 1.0)):
        model = torch_gst.TemporalModel(174, 8, depth=50, alpha=0.25, beta=beta)
        torch.save(torch_gst.authors_checkpoint(model), root / name)
    for alias in ("gst.pth.tar", "checkpoint.pth"):
        os.link(root / "GST_somethingv2_resnet50_segment8_best.pth.tar", root / alias)
    torch.save(torch_gst.TorchvisionResNet(34).state_dict(), root / "resnet34-333f7ec4.pth")
    (root / "ssv2_labels.txt").write_text("\n".join(f"class {i}" for i in range(174)) + "\n")


def make_workspace(root):
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    make_videos(root)
    make_ssv2(root)
    make_scores(root)
    make_models(root)
    make_torch_files(root)
    return root
