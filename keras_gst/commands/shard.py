"""`keras-gst shard SOURCE OUT --shards N`: videos -> TFRecord shards with an Apache Beam pipeline."""

import argparse
import os
import sys

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail


def register(subparsers):
    parser = subparsers.add_parser(
        "shard",
        help="Decode videos into TFRecord shards of SequenceExamples (Apache Beam: local or Dataflow/Flink/Spark).",
        description="Decode every video of SOURCE (a video folder, or a 'path label' video list) with the "
        "decoders of extract-frames and write OUT/<name>-SSSSS-of-NNNNN.tfrecord (tf.train.SequenceExample: "
        "feature list image/encoded, context clip/label/index, clip/label/string, clip/media_id), "
        "OUT/failed.tsv (videos that could not be decoded, with the reason) and OUT/manifest.json. Runs an "
        "Apache Beam pipeline (pip install \"keras-gst[beam]\"): DirectRunner on every local core by default; "
        "other runners and their options after '--'. Exit code 1 if any video failed.",
        usage="keras-gst shard SOURCE OUT --shards N [options] [-- BEAM_PIPELINE_OPTIONS...]",
        epilog="BEAM_PIPELINE_OPTIONS (after '--') go to Beam, e.g. -- --runner=DataflowRunner --project=P "
        "--region=R --temp_location=gs://B/tmp (docs/data.md).",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="video folder (recursive; class subfolders give labels), a 'path label' video list, or "
                             "an annotation file of --dataset")
    parser.add_argument("out", metavar="OUT", help="output folder (local, or gs:// etc. for a distributed runner)")
    parser.add_argument("--shards", type=A.positive_int, required=True, help="number of TFRecord files")
    parser.add_argument("--labels", help="'path label' list for a video folder (paths relative to it)")
    parser.add_argument("--dataset", default="list", choices=["list", "sthv2", "diving48", "egtea"],
                        help="SOURCE's annotation format when it is a file: list (default), sthv2, diving48, "
                             "egtea (as keras-gst train)")
    parser.add_argument("--data-root", help="videos root for --dataset annotation files")
    parser.add_argument("--class-file", help="class names (clip/label/string): a label map, one name a line, or "
                                             "the class file of --dataset")
    parser.add_argument("--name", help="shard file name prefix (default: SOURCE's name)")
    parser.add_argument("--short-side", type=A.non_negative_int, default=256,
                        help="resize the short side to this (default 256; 0: keep)")
    parser.add_argument("--quality", type=A.jpeg_quality, default=95, help="JPEG quality (default 95)")
    parser.add_argument("--timeout", type=A.positive_float, default=600.0, help="seconds allowed per video (default 600)")
    parser.add_argument("--runner", help="Beam runner (default DirectRunner, multi-processing on every core)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, beam_args=[])
    parser.__class__ = _ShardParser  # everything after '--' is Beam's (see _ShardParser)


class _ShardParser(argparse.ArgumentParser):
    """The `shard` parser: arguments after ``--`` are Beam pipeline options, kept as ``beam_args`` (a
    positional ``nargs="*"`` cannot take them after SOURCE OUT and the flags)."""

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        beam_args = []
        if "--" in args:
            cut = args.index("--")
            args, beam_args = args[:cut], args[cut + 1:]
        namespace, extras = super().parse_known_args(args, namespace)
        namespace.beam_args = beam_args
        return namespace, extras


def run(args):
    import logging

    from keras_gst.locks import FolderLockedError
    from keras_gst.data.annotations import AnnotationError
    from keras_gst.data.shards import ShardError, write_shards

    show_logs = getattr(args, "show_logs", False)
    if show_logs:
        from keras_gst.data import decode

        decode.show_decoder_logs()
        logging.getLogger("apache_beam").setLevel(logging.INFO)
    else:  # Beam's INFO / WARNING lines (runner start, worker pool, missing optional libraries) would bury the report
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        logging.getLogger().addFilter(_not_from_beam)
    try:
        source, class_file = args.source, args.class_file
        if args.dataset != "list":
            source, class_file = _read_annotations(args), None
        name = args.name or os.path.splitext(os.path.basename(os.path.normpath(args.source)))[0]
        manifest = write_shards(source, args.out, num_shards=args.shards, name=name, labels=args.labels,
                                class_file=class_file, short_side=args.short_side, quality=args.quality,
                                timeout=args.timeout, runner=args.runner, beam_args=args.beam_args,
                                overwrite=args.overwrite, progress=not args.no_progress)
    except (ShardError, AnnotationError, ImportError, FileNotFoundError, ValueError, FolderLockedError) as e:
        return fail("shard", e, {})
    failed_tsv = os.path.join(args.out, "failed.tsv")
    if manifest["num_failed"] and os.path.isfile(failed_tsv):
        with open(failed_tsv, encoding="utf-8") as f:
            lines = f.read().splitlines()[1:]
        for line in lines[:20]:
            print("FAILED    " + line.replace("\t", ": ", 1))
        if len(lines) > 20:
            print(f"... and {len(lines) - 20} more in {failed_tsv}")
    for path, frames, claimed in manifest["truncated"]:
        print(f"TRUNCATED {path}: container claims {claimed} frames, {frames} decode (kept)")
    if manifest["unlabeled"]:
        print(f"UNLABELED {len(manifest['unlabeled'])} videos under SOURCE are not in the label list (label -1), "
              f"e.g. {manifest['unlabeled'][0]}")
    print(f"wrote {manifest['num_videos']} videos ({manifest['num_frames']} frames) into {len(manifest['shards'])} "
          f"shards in {args.out}; {manifest['num_failed']} failed"
          + (f" (listed in {args.out}/failed.tsv)" if manifest["num_failed"] else ""))
    return 1 if manifest["num_failed"] else 0


def _not_from_beam(record):
    """False for a record Beam logs on the root logger (`logging.warning(...)` at import: "apitools not found")."""
    return f"{os.sep}apache_beam{os.sep}" not in record.pathname


def _read_annotations(args):
    """SOURCE as an annotation file of --dataset (the readers of `keras-gst train`); missing videos are
    kept as entries the pipeline reports in failed.tsv."""
    from keras_gst.data.shards import ShardError
    from keras_gst.training.recipe import Recipe, load_annotations

    if os.path.isdir(args.source):
        raise ShardError(f"--dataset {args.dataset} takes an annotation file as SOURCE, {args.source} is a folder")
    recipe = Recipe(dataset=args.dataset, data_root=args.data_root, val_annotations=args.source,
                    class_file=args.class_file, source="videos" if args.dataset in ("sthv2", "diving48") else None,
                    on_error="skip")
    return load_annotations(recipe, "val")
