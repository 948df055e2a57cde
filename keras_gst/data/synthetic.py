"""A synthetic temporal dataset written as real video files + list files (offline demo, tests).

Classes come in time-reversed pairs: the second class of a pair is the first one played backwards
(moving left->right / right->left, growing / shrinking, rotating clockwise / counterclockwise,
appearing / disappearing). Any single frame is equally likely under both classes of a pair, so a
per-frame model (C2D) cannot beat chance within a pair; a model that looks at frame order can.
Colours, positions, sizes, speeds and background noise are random; everything is seeded.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from keras_gst.data.video_readers import quiet_decoder_logs

CLASS_NAMES = (
    "moving something from left to right",
    "moving something from right to left",
    "something growing",
    "something shrinking",
    "rotating something clockwise",
    "rotating something counterclockwise",
    "something appearing",
    "something disappearing",
)
_MOTIONS = ("move", "grow", "rotate", "appear")


def _background(rng, size):
    base = rng.integers(0, 90, size=3)
    noise = rng.integers(-12, 13, size=(size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _forward_frames(motion, rng, frames, size):
    """The first class of the pair `motion`, as (frames, size, size, 3) uint8 BGR."""
    bg = _background(rng, size)
    color = tuple(int(c) for c in rng.integers(140, 256, size=3))
    out = []
    s = size / 64.0
    cy = int(rng.integers(int(20 * s), int(44 * s) + 1))
    cx = int(rng.integers(int(24 * s), int(40 * s) + 1))
    half = int(rng.integers(int(5 * s), int(9 * s) + 1))
    span = float(rng.uniform(0.7, 1.0))
    angle0 = float(rng.uniform(0, 2 * np.pi))
    for t in np.linspace(0.0, 1.0, frames):
        img = bg.copy()
        if motion == "move":
            x = int(round(size * (0.5 - span / 2 + span * t)))
            cv2.rectangle(img, (x - half, cy - half), (x + half, cy + half), color, -1)
        elif motion == "grow":
            r = int(round(size * (0.04 + 0.3 * span * t)))
            cv2.circle(img, (size // 2, size // 2), max(r, 1), color, -1)
        elif motion == "rotate":  # clockwise on screen (y axis points down)
            a = angle0 + t * 1.5 * np.pi * span
            tip = (int(size / 2 + 0.38 * size * np.cos(a)), int(size / 2 + 0.38 * size * np.sin(a)))
            cv2.line(img, (size // 2, size // 2), tip, color, max(2, int(3 * s)))
            cv2.circle(img, tip, max(2, int(4 * s)), color, -1)
        else:  # appear: fade in
            overlay = img.copy()
            cv2.rectangle(overlay, (cx - 2 * half, cy - half), (cx + 2 * half, cy + half), color, -1)
            img = cv2.addWeighted(overlay, float(t), img, 1.0 - float(t), 0.0)
        out.append(img)
    return np.stack(out)


def make_clip(label, rng, frames=16, size=64):
    """Frames (frames, size, size, 3) uint8 BGR of class `label` (index into CLASS_NAMES)."""
    clip = _forward_frames(_MOTIONS[label // 2], rng, frames, size)
    return clip[::-1] if label % 2 else clip


def write_video(path, frames_bgr, fps=12):
    """Write BGR frames as an mp4 (MPEG-4 Part 2 via OpenCV) and check it reads back."""
    h, w = frames_bgr.shape[1:3]
    quiet_decoder_logs("opencv")  # before OpenCV's FFmpeg starts: it reads its log level once
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (mp4v)")
    for frame in frames_bgr:
        writer.write(np.ascontiguousarray(frame))
    writer.release()


def write_synthetic_dataset(out_dir: str | os.PathLike, num_videos_per_class: int = 32, frames: int = 16, size: int = 64,
                            seed: int = 0, num_classes: int = len(CLASS_NAMES),
                            val_fraction: float = 0.25) -> tuple[str, str, list[str]]:
    """Write ``out_dir/videos/<class>_<i>.mp4``, ``train.txt``, ``val.txt`` (MMAction2 video lists
    ``videos/<name>.mp4 <label>``, relative to `out_dir`) and ``classes.txt``.

    `num_videos_per_class` is the training count per class; `val_fraction` of that (at least 1) more
    per class go to validation. `num_classes` (2, 4, 6 or 8) keeps the first classes, whole pairs.
    Returns (train_list_path, val_list_path, class_names).

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset

    train, val, classes = write_synthetic_dataset("synthetic", num_videos_per_class=2, frames=8, size=32, num_classes=2)
    print(len(open(train).readlines()), len(open(val).readlines()))  # 4 2
    print(classes[1])  # moving something from right to left
    ```
    """
    if num_classes not in (2, 4, 6, 8):
        raise ValueError(f"num_classes must be 2, 4, 6 or 8 (time-reversed pairs). Received: {num_classes}")
    if size % 2 or size < 16:
        raise ValueError(f"size must be even and >= 16. Received: size={size}")
    if frames < 2:
        raise ValueError(f"frames must be >= 2. Received: frames={frames}")
    rng = np.random.default_rng(seed)
    class_names = list(CLASS_NAMES[:num_classes])
    video_dir = os.path.join(out_dir, "videos")
    os.makedirs(video_dir, exist_ok=True)
    num_val = max(1, int(round(num_videos_per_class * val_fraction)))
    lines = {"train": [], "val": []}
    for label in range(num_classes):
        for i in range(num_videos_per_class + num_val):
            split = "train" if i < num_videos_per_class else "val"
            name = f"c{label}_{split}_{i:04d}.mp4"
            write_video(os.path.join(video_dir, name), make_clip(label, rng, frames, size))
            lines[split].append(f"videos/{name} {label}")
    paths = {}
    for split, rows in lines.items():
        order = rng.permutation(len(rows))
        paths[split] = os.path.join(out_dir, f"{split}.txt")
        with open(paths[split], "w") as f:
            f.write("\n".join(rows[j] for j in order) + "\n")
    with open(os.path.join(out_dir, "classes.txt"), "w") as f:
        f.write("\n".join(class_names) + "\n")
    return paths["train"], paths["val"], class_names
