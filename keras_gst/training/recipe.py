"""`Recipe`: everything one training run needs (data, model, optimisation, runtime), as a dataclass.

Recipes in `recipes/` fill one with the paper's defaults for a dataset and call `keras_gst.training.fit`.
`load_annotations(recipe, split)` turns the data fields into `keras_gst.data.Annotations` with the
matching reader; `recipe.data` is the clip fields as one `keras_gst.data.DataSpec` (checked there, once),
which `keras_gst.data.build_dataset` takes whole (`dataset_options`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keras_gst.data import Annotations, Shards

DATASETS = ("list", "sthv1", "sthv2", "diving48", "epic-kitchens", "egtea", "shards")


@dataclasses.dataclass
class Recipe:
    """A training run. Units: `batch_size` is clips per replica (global = batch_size x replicas);
    `base_lr` is the lr for `base_batch` clips, scaled linearly to the global batch.

    Data (see `load_annotations`):
        dataset: "list" (list files: authors' GST, TSN, MMAction2 rawframes/videos), "sthv1", "sthv2",
            "diving48", "epic-kitchens", "egtea", "shards" (`keras-gst shard` output: the annotation fields
            are shard folders or file patterns, class names come from their manifest).
        data_root: videos / frame folders root (list files: default the list file's folder).
        train_annotations, val_annotations: split files (val may be None: no validation).
        class_file: class names (sthv1 labels CSV, sthv2 labels JSON, Diving48 vocab JSON, EGTEA
            `<target>_idx.txt`, EPIC verb or noun classes CSV, list files: a label map, one name a line).
        source: "videos" or "rawframes" (sthv2, diving48, epic-kitchens); None = the reader's default.
        target: EPIC / EGTEA label ("verb", "noun", "action").
        template: frame file names ("auto" detects per folder).
        num_classes: default from the class names.
        flip: horizontal flip: "auto" (mirror left/right classes, off if a direction has no mirror), True, False.
        on_error: "skip" (default: bad items are logged, counted and dropped) or "raise".

    Clips (`num_frames`, `sampling`, `scale_size`, `crop_size`, `val_num_clips` x `val_num_crops` test views of
    the final evaluation, with the data fields `template`, `flip`, `on_error`) are `recipe.data`, a `DataSpec`.

    Example:

    ```python
    from keras_gst.training import Recipe

    recipe = Recipe(train_annotations="train.txt", num_frames=4, crop_size=32, scale_size=32)
    print(recipe.data.num_frames, recipe.data.crop_size, recipe.data.sampling)  # 4 32 segment
    ```
    """

    name: str = "gst"
    # data
    dataset: str = "list"
    data_root: str | None = None
    train_annotations: str | None = None
    val_annotations: str | None = None
    class_file: str | None = None
    source: str | None = None
    target: str = "verb"
    template: str = "{:05d}.jpg"
    num_classes: int | None = None
    flip: object = "auto"
    on_error: str = "skip"
    # clips
    num_frames: int = 8
    sampling: str = "segment"
    scale_size: int = 256
    crop_size: int = 224
    val_num_clips: int = 1
    val_num_crops: int = 1
    # model
    depth: int = 50
    block: str = "gst"
    alpha: float = 0.25
    beta: float = 0.5
    groups: int = 1
    dropout: float = 0.3
    weights: str | None = "imagenet"
    temporal_impl: str = "conv3d"
    causal: bool = False  # temporal convolutions see only current and past frames (zero-delay streaming)
    dtype: str | None = None  # Keras dtype policy: None/"float32", "mixed_bfloat16", "mixed_float16" (loss scaling)
    freeze_bn: bool = False  # partial BN (TSN/TSM): all BatchNorms frozen but the first (stem/bn)
    # optimisation (docs/paper.md: paper Sec. 4.1 and the authors' code)
    epochs: int = 70
    batch_size: int = 8
    base_lr: float = 0.01
    base_batch: int = 24
    decay_epochs: tuple = (50, 60)
    decay_factor: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_norm: float | None = 20.0
    patience: int | None = None  # early stopping: epochs without a better validation top-1 (None: off)
    # runtime
    output_dir: str = "runs/gst"
    resume: bool = True
    strategy: str = "auto"
    devices: tuple | None = None
    seed: int | None = 0
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    keep_checkpoints: int = 0  # checkpoints/epoch_NNN.keras to keep (0: none; backup/ is the resume point)
    histograms: bool = True
    evaluate_at_end: bool = True
    verbose: int = 2

    def __post_init__(self):
        """Check every field before any work; a bad value raises `ParameterError` naming the field."""
        from keras_gst.errors import ParameterError
        from keras_gst.models.specs import check_model

        def bad(field, wanted):
            raise ParameterError(field, f"must be {wanted}, got {getattr(self, field)!r}")

        if self.dataset not in DATASETS:
            bad("dataset", f"one of {DATASETS}")
        try:
            self.data  # noqa: B018 (the clip fields, checked by DataSpec)
        except ParameterError as e:
            raise ParameterError({"num_clips": "val_num_clips", "num_crops": "val_num_crops"}.get(e.param, e.param),
                                 e.detail) from None
        for field in ("epochs", "batch_size", "base_batch"):
            if int(getattr(self, field)) < 1:
                bad(field, ">= 1")
        for field in ("steps_per_epoch", "validation_steps", "num_classes"):
            if getattr(self, field) is not None and int(getattr(self, field)) < 1:
                bad(field, "None or >= 1")
        for field in ("keep_checkpoints", "base_lr", "momentum", "weight_decay"):
            if not getattr(self, field) >= 0:
                bad(field, ">= 0")
        if not self.decay_factor > 0:
            bad("decay_factor", "> 0")
        if not 0 <= self.dropout < 1:
            bad("dropout", "in [0, 1)")
        try:  # the model's own checks (num_frames, depth, block, alpha, beta, groups: keras_gst.models.specs)
            check_model(self.depth, self.block, self.alpha, self.beta, self.groups, self.num_frames, self.crop_size)
        except ParameterError as e:
            raise ParameterError({"image_size": "crop_size"}.get(e.param, e.param), e.detail) from None
        if isinstance(self.weights, str) and self.weights.lower() == "none":
            self.weights = None
        self.decay_epochs = tuple(int(e) for e in self.decay_epochs)
        if self.devices is not None:
            self.devices = tuple(self.devices)

    @property
    def data(self):
        """The recipe's clips as a `keras_gst.data.DataSpec`, the form `keras_gst.data.build_dataset` takes:
        test views `val_num_clips` x `val_num_crops`, frame files `frame_template(recipe)`."""
        from keras_gst.data.spec import DataSpec

        return DataSpec(num_frames=self.num_frames, crop_size=self.crop_size, scale_size=self.scale_size,
                        sampling=self.sampling, flip=self.flip, num_clips=self.val_num_clips,
                        num_crops=self.val_num_crops, template=frame_template(self), on_error=self.on_error)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, default=str)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _class_names_from_file(path):
    from keras_gst.data import read_label_map

    return read_label_map(path) if path else None


def load_annotations(recipe: Recipe, split: str = "train") -> Annotations | Shards | None:
    """The split's `keras_gst.data.Annotations` (`Shards` for dataset "shards"; None for a split the recipe
    has no file for), read with the recipe's dataset reader.

    Missing sources are skipped and counted with `on_error="skip"` (the default).

    Example:

    ```python
    from keras_gst.data import write_synthetic_dataset
    from keras_gst.training import Recipe, load_annotations

    train_list, val_list, _ = write_synthetic_dataset("synthetic", num_videos_per_class=1, frames=8, size=32,
                                                      num_classes=2)
    recipe = Recipe(train_annotations=train_list, val_annotations=val_list, class_file="synthetic/classes.txt")
    train = load_annotations(recipe, "train")
    print(len(train.records), train.class_names[0])  # 2 moving something from left to right
    ```
    """
    from keras_gst import data

    path = recipe.train_annotations if split == "train" else recipe.val_annotations
    if path is None:
        return None
    root = recipe.data_root
    common = {"on_error": recipe.on_error}
    src = {"source": recipe.source} if recipe.source else {}
    kind = recipe.dataset
    if kind == "shards":
        return data.read_shards(path)
    if kind != "list" and (root is None or recipe.class_file is None):
        raise ValueError(f"dataset={kind!r} needs data_root and class_file")
    if kind == "list":
        return data.read_list_file(path, root, class_names=_class_names_from_file(recipe.class_file),
                                   num_classes=recipe.num_classes, **common)
    if kind == "sthv1":
        return data.read_sthv1(path, recipe.class_file, root, template=recipe.template, **common)
    if kind == "sthv2":
        return data.read_sthv2(path, recipe.class_file, root, **src, **common)
    if kind == "diving48":
        return data.read_diving48(path, recipe.class_file, root, **src, **common)
    if kind == "epic-kitchens":
        classes = {"verb_classes_csv": recipe.class_file} if recipe.target != "noun" else {"noun_classes_csv": recipe.class_file}
        return data.read_epic_kitchens(path, root, target=recipe.target, **classes, **src, **common)
    if kind == "egtea":
        index = {f"{recipe.target}_idx": recipe.class_file}
        return data.read_egtea(path, root, target=recipe.target, **index, **common)
    raise AssertionError(kind)


def num_classes_of(recipe, train):
    """The label space: `recipe.num_classes`, else the training class names, else 1 + the largest label."""
    return recipe.num_classes or len(train.class_names or []) or 1 + max(int(r.label) for r in train.records)


def frame_template(recipe):
    """The frame file template for the pipeline (EPIC frames are `frame_0000000001.jpg`)."""
    if recipe.dataset == "epic-kitchens" and recipe.template == "{:05d}.jpg":
        return "frame_{:010d}.jpg"
    if recipe.dataset == "sthv2" and recipe.template == "{:05d}.jpg":
        return "auto"
    return recipe.template


def dataset_options(recipe, training, class_names, num_classes, single_view=False):
    """Keyword arguments of `keras_gst.data.build_dataset` for the recipe's train or val split: `spec` is
    `recipe.data`, whole; `single_view=True` keeps the centre clip and crop only (validation during training;
    the final evaluation uses the recipe's views)."""
    spec = recipe.data.replace(num_clips=1, num_crops=1) if single_view else recipe.data
    options = dict(spec=spec, training=training, class_names=class_names or None, num_classes=num_classes,
                   seed=recipe.seed)
    if training:
        options.update(repeat=True)
    return options


def output_paths(output_dir: str | os.PathLike) -> dict[str, str]:
    """Where a run writes: best model (model.keras: the same file, from the CLI), backup (resume, removed
    when the run completes), optional epoch checkpoints, TensorBoard, logs, plots.

    Example:

    ```python
    from keras_gst.training import output_paths

    print(output_paths("runs/gst")["model"])  # runs/gst/model.keras
    ```
    """
    return {
        "root": output_dir,
        "checkpoints": os.path.join(output_dir, "checkpoints"),
        "best": os.path.join(output_dir, "best.keras"),
        "best_score": os.path.join(output_dir, "best.txt"),
        "model": os.path.join(output_dir, "model.keras"),
        "backup": os.path.join(output_dir, "backup"),
        "tensorboard": os.path.join(output_dir, "tensorboard"),
        "history": os.path.join(output_dir, "history.csv"),
        "recipe": os.path.join(output_dir, "recipe.json"),
        "plots": os.path.join(output_dir, "plots"),
        "eval": os.path.join(output_dir, "eval"),
    }
