"""Videos -> TFRecord shards of `tf.train.SequenceExample`, with an Apache Beam pipeline (`keras-gst shard`).

Each good video becomes one record in the schema of TF Model Garden's video loader and DeepMind's DMVR
(MediaPipe MediaSequence keys): feature list ``image/encoded`` (one JPEG per decoded frame, in order),
context ``clip/label/index`` (int64, -1 = unlabeled), ``clip/label/string`` (the class name, or empty)
and ``clip/media_id`` (the source path). Frames come from `extract.encode_video_frames`, the per-video
function `extract-frames` uses (checked decoders, true frame counts, short-side resize, JPEG encode).

OUT holds ``<name>-SSSSS-of-NNNNN.tfrecord``, ``failed.tsv`` (``source<TAB>reason`` for every video that
was not written: a dead-letter output, never fatal) and ``manifest.json`` (counts, shards, options, class
names, one ``[media_id, frames, label]`` per video), all written by the pipeline, the manifest last. A
local OUT is written into a sibling staging folder and renamed into place when the pipeline succeeds,
so OUT never holds a mix of two runs. Apache Beam is the optional extra ``keras-gst[beam]``; it is
imported only when a pipeline runs (`shard_beam`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from keras_gst.locks import replace_lock
from keras_gst.errors import ParameterError
from keras_gst.data.annotations import Annotations, read_label_map, read_list_file
from keras_gst.data.extract import find_videos

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions

logger = logging.getLogger(__name__)

FRAMES_KEY = "image/encoded"
LABEL_KEY = "clip/label/index"
LABEL_STRING_KEY = "clip/label/string"
MEDIA_ID_KEY = "clip/media_id"
SHARD_SUFFIX = ".tfrecord"
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
MANIFEST = "manifest.json"
FAILED = "failed.tsv"
FORMAT = "keras-gst-shards/1"
INSTALL_HINT = 'pip install "keras-gst[beam]"'


class ShardError(ValueError):
    """A bad `shard` request (OUT not empty, bad runner or option, bad source); names the fix."""


def import_beam() -> ModuleType:
    """`apache_beam`, or an ImportError that says how to install it."""
    try:
        import apache_beam
    except ImportError as e:
        raise ImportError(f"Apache Beam is not installed ({e}): {INSTALL_HINT}") from None
    return apache_beam


@dataclasses.dataclass
class ShardSource:
    """What a `shard` run reads: `items` ``(path, label, label string)``, class names, what the label
    list and the videos disagree on, and entries that fail before decoding (``(source, reason)``)."""

    items: list
    class_names: list
    labels_from: str
    unlabeled: list = dataclasses.field(default_factory=list)
    dead: list = dataclasses.field(default_factory=list)


def _is_remote(path):
    return "://" in str(path)


def _class_folder_labels(root, videos):
    """{video: label}, class names when every video sits in a first-level subfolder and there are
    at least two (the `keras-gst train --data` layout); else None."""
    tops = {os.path.relpath(v, root).split(os.sep)[0] for v in videos}
    if any(os.path.isfile(os.path.join(root, t)) for t in tops) or len(tops) < 2:
        return None
    names = sorted(tops)
    index = {name: i for i, name in enumerate(names)}
    return {v: index[os.path.relpath(v, root).split(os.sep)[0]] for v in videos}, names


def list_source(source: str | os.PathLike | Annotations, *, labels: str | os.PathLike | None = None,
                class_file: str | os.PathLike | None = None) -> ShardSource:
    """The videos of `source` (a folder, searched recursively, an MMAction2 video list ``path label``, or
    `Annotations` of video records from any reader) with their labels, as a `ShardSource`.

    A folder takes labels from `labels` (a ``path label`` list, paths relative to the folder): a listed
    video that is not in the folder is a dead letter, a video the list does not name is written with
    label -1 and reported in `unlabeled`. Without `labels`, a folder of class subfolders gives labels
    from the sorted subfolder names; else every label is -1. `class_file` (one class name a line) names
    the labels.
    """
    if isinstance(source, Annotations):
        return _annotation_source(source, labels)
    source = os.fspath(source)
    labels = None if labels is None else os.fspath(labels)
    class_names = read_label_map(class_file) if class_file else []
    dead, unlabeled = [], []
    if os.path.isdir(source):
        videos = [os.path.abspath(v) for v in find_videos(source)]
        if not videos:
            raise ShardError(f"no video files under {source} (by extension)")
        if labels is not None:
            label_of = {}
            for r in read_list_file(labels, root=os.path.abspath(source), check_files=False,
                                    class_names=class_names or None).records:
                path = os.path.normpath(r.path)
                if path in label_of:
                    dead.append((path, f"listed twice in {labels}"))
                label_of[path] = r.label
            present = set(videos)
            dead += [(p, f"listed in {labels} but not found under {source}") for p in label_of if p not in present]
            unlabeled = [v for v in videos if v not in label_of]
            if unlabeled:
                logger.warning("%d videos under %s are not in %s (written with label -1), e.g. %s",
                               len(unlabeled), source, labels, unlabeled[0])
            pairs, labels_from = [(v, label_of.get(v, -1)) for v in videos], labels
        else:
            folders = _class_folder_labels(os.path.abspath(source), videos)
            if folders is not None:
                label_of, found_names = folders
                class_names = class_names or found_names
                pairs, labels_from = [(v, label_of[v]) for v in videos], "class folders"
            else:
                pairs, labels_from = [(v, -1) for v in videos], "none"
    elif os.path.isfile(source):
        if labels is not None:
            raise ShardError(f"SOURCE {source} is a list file (it has the labels); --labels is for a video folder")
        root = os.path.dirname(os.path.abspath(source))
        records = read_list_file(source, root="", check_files=False, class_names=class_names or None).records
        pairs, seen = [], set()
        for r in records:
            if not r.is_video:
                raise ShardError(f"{source} names {r.path!r}, not a video file; shard takes videos "
                                 "(frame folders are already extracted)")
            path = r.path if _is_remote(r.path) or os.path.isabs(r.path) else os.path.join(root, r.path)
            path = path if _is_remote(path) else os.path.normpath(path)
            if path in seen:
                dead.append((path, f"listed twice in {source}"))
                continue
            seen.add(path)
            pairs.append((path, r.label))
        labels_from = source
    else:
        raise ShardError(f"SOURCE not found: {source} (a video folder or a 'path label' video list)")
    if class_names:
        bad = [(p, lab) for p, lab in pairs if lab >= len(class_names)]
        if bad:
            raise ShardError(f"label {bad[0][1]} of {bad[0][0]} is beyond the {len(class_names)} classes of {class_file}")
    items = [(p, int(lab), class_names[lab] if 0 <= lab < len(class_names) else "") for p, lab in pairs]
    return ShardSource(items, class_names, labels_from, unlabeled, dead)


def _annotation_source(annotations, labels):
    if labels is not None:
        raise ShardError("an annotation file has the labels; --labels is for a video folder")
    names, items, seen, dead = list(annotations.class_names), [], set(), []
    for r in annotations.records:
        if not r.is_video:
            raise ShardError(f"{r.path} is not a video file; shard takes videos (frame folders are already extracted)")
        if r.offset or isinstance(r.label, tuple):
            raise ShardError(f"{r.path}: segments inside a video (offset {r.offset}) and multi-label records are "
                             "not supported by shard; cut the segments into videos first")
        if r.path in seen:
            dead.append((r.path, "listed twice in the annotation file"))
            continue
        seen.add(r.path)
        items.append((r.path, int(r.label), names[r.label] if 0 <= r.label < len(names) else ""))
    dead += [(message.split(": ", 1)[0], message.split(": ", 1)[-1]) for message in annotations.skipped]
    return ShardSource(items, names, "annotations", [], dead)


def sequence_example(jpegs: Iterable[bytes], media_id: str, label: int, label_string: str = "") -> bytes:
    """One video's `tf.train.SequenceExample` (serialised) in the DMVR / Model Garden schema."""
    import tensorflow as tf

    example = tf.train.SequenceExample()
    context = example.context.feature
    context[MEDIA_ID_KEY].bytes_list.value.append(media_id.encode())
    context[LABEL_KEY].int64_list.value.append(int(label))
    context[LABEL_STRING_KEY].bytes_list.value.append(label_string.encode())
    frames = example.feature_lists.feature_list[FRAMES_KEY]
    for jpeg in jpegs:
        frames.feature.add().bytes_list.value.append(jpeg)
    return example.SerializeToString()


def _runner_kind(name):
    return name.lower().removesuffix("runner")


def pipeline_options(runner: str | None = None, beam_args: Sequence[str] = ()) -> PipelineOptions:
    """Beam `PipelineOptions` for `runner` (default DirectRunner, multi-processing on every core) and
    `beam_args`, checked before any work with Beam's public `PipelineOptions.get_all_options`: an unknown
    runner, an unknown option (the options kept only with ``retain_unknown_options``) or a bad value is a
    `ShardError` that names it."""
    import_beam()
    import difflib

    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.runner import create_runner

    def refuse_bad_values(parser):  # Beam's parser would print its usage and exit
        def error(message):
            raise ShardError(f"bad Beam pipeline option: {message}")

        parser.error = error

    names = PipelineOptions([]).get_all_options()  # every option Beam knows, by name
    known = PipelineOptions(list(beam_args)).get_all_options(add_extra_args_fn=refuse_bad_values,
                                                              retain_unknown_options=True)
    unknown = sorted(set(known) - set(names))
    if unknown:
        spelled = {a.lstrip("-").split("=", 1)[0].replace("-", "_"): a for a in beam_args if a.startswith("-")}
        first = spelled.get(unknown[0], f"--{unknown[0]}")
        near = difflib.get_close_matches(first.split("=", 1)[0], [f"--{name}" for name in names], n=1)
        hint = f" (did you mean {near[0]}?)" if near else " (see `python -m apache_beam.examples.wordcount --help`)"
        raise ShardError(f"unknown Beam pipeline option {first}{hint}")
    if runner and known["runner"] and _runner_kind(runner) != _runner_kind(known["runner"]):
        raise ShardError(f"--runner {runner} and the Beam option --runner={known['runner']} disagree; pass one")
    runner = runner or known["runner"] or "DirectRunner"
    try:
        create_runner(runner)
    except (ValueError, ImportError) as e:
        raise ShardError(f"bad runner {runner!r}: {e}") from None
    given = {a.lstrip("-").split("=", 1)[0] for a in beam_args if a.startswith("--")}
    defaults = {}
    if "default_sdk_harness_log_level" not in given:  # workers log as the apache_beam logger here
        level = logging.getLogger("apache_beam").getEffectiveLevel()
        defaults["default_sdk_harness_log_level"] = logging.getLevelName(level)
    if _runner_kind(runner) == "direct":
        if "direct_running_mode" not in given:
            defaults["direct_running_mode"] = "multi_processing"
        if "direct_num_workers" not in given:
            defaults["direct_num_workers"] = 0  # every core
    return PipelineOptions(list(beam_args), runner=runner, **defaults), runner


def _out_entries(out):
    if _is_remote(out):
        from apache_beam.io.filesystems import FileSystems

        return [m.path for r in FileSystems.match([out.rstrip("/") + "/*"]) for m in r.metadata_list]
    return os.listdir(out) if os.path.isdir(out) else []


def write_shards(source: str | os.PathLike | Annotations, out: str | os.PathLike, *, num_shards: int,
                 name: str | None = None, labels: str | os.PathLike | None = None,
                 class_file: str | os.PathLike | None = None, short_side: int = 256, quality: int = 95,
                 timeout: float = 600.0, runner: str | None = None, beam_args: Sequence[str] = (),
                 overwrite: bool = False, progress: bool = True) -> dict:
    """Run the Beam pipeline: videos of `source` (see `list_source`) -> `out` shards, failed.tsv,
    manifest.json. Returns the manifest (a dict). Raises `ShardError` before any work for a bad
    number, a non-empty `out` without `overwrite`, a bad runner or option, or a bad source, and
    `keras_gst.locks.FolderLockedError` when another process writes a local `out`.

    `progress`: a bar of the videos done on stderr when it is a terminal, for a local OUT on the
    DirectRunner (other runners show progress in their own UI). Beam's workers log at the level of
    the ``apache_beam`` logger here (e.g. ``logging.getLogger("apache_beam").setLevel(logging.ERROR)``
    quiets them too)."""
    for param, value, ok, wanted in (("num_shards", num_shards, num_shards >= 1, ">= 1"),
                                     ("quality", quality, 0 <= quality <= 100, "in [0, 100]"),
                                     ("short_side", short_side, short_side >= 0, ">= 0 (0: keep)"),
                                     ("timeout", timeout, timeout > 0, "> 0 seconds")):
        if not ok:
            raise ParameterError(param, f"must be {wanted}. Received: {value}")
    options, runner = pipeline_options(runner, beam_args)
    out = os.fspath(out)
    # one writer per local OUT: a second shard run into it is refused at once, naming the first
    with contextlib.nullcontext() if _is_remote(out) else replace_lock(out):
        return _write_shards(source, out, options, runner, num_shards, name, labels, class_file, short_side, quality,
                             timeout, overwrite, progress)


def _write_shards(source, out, options, runner, num_shards, name, labels, class_file, short_side, quality, timeout,
                  overwrite, progress):
    if os.path.isfile(out):
        raise ShardError(f"OUT {out} is a file; give a folder")
    existing = _out_entries(out)
    if existing and not overwrite:
        raise ShardError(f"OUT {out} is not empty ({len(existing)} entries, e.g. {os.path.basename(existing[0])}); "
                         "pass --overwrite to replace it, or choose another folder")
    listed = list_source(source, labels=labels, class_file=class_file)
    if not listed.items:
        raise ShardError(f"no videos to shard in {source}")
    if isinstance(source, Annotations):
        source = getattr(source, "source_file", None) or "annotations"
    name = name or os.path.splitext(os.path.basename(os.path.normpath(source)))[0] or "shard"
    settings = {"source": os.fspath(source), "labels": listed.labels_from, "short_side": short_side,
                "quality": quality, "runner": runner, "num_shards": num_shards, "name": name}
    remote = _is_remote(out)
    stage = out if remote else f"{os.path.abspath(out).rstrip(os.sep)}.partial-{uuid.uuid4().hex[:8]}"
    if remote and existing:
        from apache_beam.io.filesystems import FileSystems

        FileSystems.delete(existing)
    from keras_gst.data import shard_beam

    try:
        shard_beam.run_pipeline(listed, stage, options, name=name, num_shards=num_shards, short_side=short_side,
                                quality=quality, timeout=timeout, settings=settings,
                                progress=progress and not remote and _runner_kind(runner) == "direct")
    except BaseException:
        if not remote:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    if not remote:
        _swap_into_place(stage, out)
    return read_manifest(out)


def _swap_into_place(stage, out):
    """Rename the finished staging folder to `out` (an old `out` is moved aside first, then removed)."""
    old = None
    if os.path.exists(out):
        old = f"{os.path.abspath(out).rstrip(os.sep)}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
    os.rename(stage, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def make_manifest(entries: Iterable[tuple[str, int, int, int]], shard_files: Iterable[str], failed_count: int,
                  listed: ShardSource, settings: dict) -> dict:
    """The manifest dict (see the module docstring) from the pipeline's per-video entries
    ``(media_id, frames, label, claimed)``."""
    entries = sorted(entries)
    num_classes = len(listed.class_names) or (1 + max([e[2] for e in entries], default=-1))
    return {
        "format": FORMAT,
        "keys": {"frames": FRAMES_KEY, "label": LABEL_KEY, "label_string": LABEL_STRING_KEY, "media_id": MEDIA_ID_KEY},
        "num_videos": len(entries),
        "num_failed": int(failed_count),
        "num_frames": sum(e[1] for e in entries),
        "shards": sorted(os.path.basename(f) for f in shard_files),
        "class_names": list(listed.class_names),
        "num_classes": num_classes,
        "options": settings,
        "unlabeled": list(listed.unlabeled),
        "truncated": [[e[0], e[1], e[3]] for e in entries if e[3] > e[1]],
        "videos": [[e[0], e[1], e[2]] for e in entries],
    }


def read_manifest(out: str | os.PathLike) -> dict:
    """OUT/manifest.json as a dict (local or any Beam filesystem)."""
    path = f"{os.fspath(out).rstrip('/')}/{MANIFEST}"
    if _is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path) as f:
            return json.loads(f.read().decode())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MANIFEST} in {out}: not a finished `keras-gst shard` output "
                                "(an interrupted run leaves none; run it again)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)
