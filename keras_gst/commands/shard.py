"""`keras-gst shard SOURCE OUT --shards N`: videos -> TFRecord shards with an Apache Beam pipeline."""

import argparse
import sys


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
    parser.add_argument("source", metavar="SOURCE", help="video folder (recursive) or 'path label' video list")
    parser.add_argument("out", metavar="OUT", help="output folder (local, or gs:// etc. for a distributed runner)")
    parser.add_argument("--shards", type=int, required=True, help="number of TFRecord files")
    parser.add_argument("--labels", help="'path label' list for a video folder (paths relative to it)")
    parser.add_argument("--class-file", help="class names, one a line (clip/label/string)")
    parser.add_argument("--name", help="shard file name prefix (default: SOURCE's name)")
    parser.add_argument("--short-side", type=int, default=256, help="resize the short side to this (default 256; 0: keep)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per video (default 600)")
    parser.add_argument("--runner", help="Beam runner (default DirectRunner, multi-processing on every core)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
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
    from keras_gst.data.annotations import AnnotationError
    from keras_gst.data.shards import ShardError, write_shards

    try:
        manifest = write_shards(args.source, args.out, num_shards=args.shards, name=args.name, labels=args.labels,
                                class_file=args.class_file, short_side=args.short_side, quality=args.quality,
                                timeout=args.timeout, runner=args.runner, beam_args=args.beam_args,
                                overwrite=args.overwrite)
    except (ShardError, AnnotationError, ImportError, FileNotFoundError) as e:
        print(f"keras-gst shard: error: {e}", file=sys.stderr)
        return 2
    for path, frames, claimed in manifest["truncated"]:
        print(f"TRUNCATED {path}: container claims {claimed} frames, {frames} decode (kept)")
    if manifest["unlabeled"]:
        print(f"UNLABELED {len(manifest['unlabeled'])} videos are not in the label list (written with label -1), "
              f"e.g. {manifest['unlabeled'][0]}")
    print(f"wrote {manifest['num_videos']} videos ({manifest['num_frames']} frames) into {len(manifest['shards'])} "
          f"shards in {args.out}; {manifest['num_failed']} failed"
          + (f" (listed in {args.out}/failed.tsv)" if manifest["num_failed"] else ""))
    return 1 if manifest["num_failed"] else 0
