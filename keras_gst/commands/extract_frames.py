"""`keras-gst extract-frames VIDEO_DIR OUT_DIR`: videos -> frame folders + list file with true counts."""

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail


def register(subparsers):
    parser = subparsers.add_parser(
        "extract-frames",
        help="Decode videos into frame folders OUT_DIR/<video stem>/ and write a list file.",
        description="Decode every video under VIDEO_DIR into OUT_DIR/<stem>/<template>, resumably and in "
        "parallel, and write OUT_DIR/frames_list.txt ('<stem> <true frame count> <label>'). Unreadable "
        "and truncated videos are named in the output; the exit code is 1 if any video failed.",
    )
    parser.add_argument("video_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--template", default="{:05d}.jpg", help="frame file name (default {:05d}.jpg, the authors')")
    parser.add_argument("--start-index", type=A.non_negative_int, default=1, help="number of the first frame (default 1)")
    parser.add_argument("--short-side", type=A.non_negative_int, default=0, help="resize the short side to this (default 0: keep)")
    parser.add_argument("--quality", type=A.jpeg_quality, default=95, help="JPEG quality (default 95)")
    parser.add_argument("--workers", type=A.non_negative_int, default=0, help="processes (default: all cores)")
    parser.add_argument("--labels", help="MMAction2 video list 'path label' giving the labels for the list file")
    parser.add_argument("--list-file", help="output list file (default OUT_DIR/frames_list.txt)")
    parser.add_argument("--timeout", type=A.positive_float, default=600.0, help="seconds allowed per video (default 600)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args):
    from keras_gst.locks import FolderLockedError
    from keras_gst.data.extract import extract_frames

    if getattr(args, "show_logs", False):
        from keras_gst.data import decode

        decode.show_decoder_logs()
    try:
        results = _extract(args, extract_frames)
    except (OSError, ValueError, FolderLockedError) as e:  # a bad argument or a busy OUT, before any work
        return fail("extract-frames", e, {})
    return _report(args, results)


def _extract(args, extract_frames):
    return extract_frames(
        args.video_dir,
        args.out_dir,
        template=args.template,
        start_index=args.start_index,
        short_side=args.short_side,
        quality=args.quality,
        workers=args.workers or None,
        labels=args.labels,
        list_file=args.list_file,
        timeout=args.timeout,
        progress=not args.no_progress,
    )


def _report(args, results):
    failed = [r for r in results if r.error]
    for r in results:
        if r.error:
            print(f"FAILED    {r.video}: {r.error}")
        elif r.truncated:
            print(f"TRUNCATED {r.video}: container claims {r.claimed} frames, {r.num_frames} decode (kept)")
    done = len(results) - len(failed)
    resumed = sum(r.resumed for r in results)
    print(f"extracted {done} of {len(results)} videos ({resumed} already done) into {args.out_dir}; "
          f"{len(failed)} failed")
    return 1 if failed else 0
