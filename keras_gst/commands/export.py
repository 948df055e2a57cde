"""`keras-gst export`: a .keras GST model -> SavedModel or TFLite, with a parity report on real clips.

    keras-gst export --format savedmodel --model M.keras --out DIR [--input-dtype uint8]
    keras-gst export --format tflite --model M.keras --quantize int8 --calibration DATA --out M.tflite
    keras-gst export --format streaming --model M.keras --out M.tflite [--quantize int8 --calibration DATA]

Exits non-zero (2) when the exported model disagrees with the Keras model beyond the mode's threshold
(the file is kept for inspection; the report says where it is), or when the int8 op audit fails.
"""

import json
import sys

from keras_gst.commands import argtypes as A


def register(subparsers):
    parser = subparsers.add_parser("export", help="Export a .keras model to SavedModel or TFLite, with parity report.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser, fixed_format=None):
    """Flags of the export command; `fixed_format` ("savedmodel" or "tflite") hides --format (scripts)."""
    if fixed_format is None:
        parser.add_argument("--format", required=True, choices=["savedmodel", "tflite", "streaming"],
                            help="streaming: frame-by-frame SavedModel with init_states/call signatures, or with "
                                 "--out M.tflite the stream step as TFLite (any --quantize)")
    else:
        parser.set_defaults(format=fixed_format)
    parser.add_argument("--model", required=True, help="the Keras model: a .keras file or a keras-hub preset directory")
    parser.add_argument("--out", required=True, help="output SavedModel directory or .tflite file")
    parser.add_argument("--frames", type=A.positive_int, default=None, help="T of the exported input (default: the model's, else 8)")
    parser.add_argument("--size", type=A.positive_int, default=None, help="frame height = width (default: the model's, else 224)")
    parser.add_argument("--input-dtype", default="float32", choices=["float32", "uint8"],
                        help="float32: normalised frames; uint8: RGB pixels, ImageNet normalisation inside")
    if fixed_format != "savedmodel":
        parser.add_argument("--quantize", default="none", choices=["none", "fp16", "dynamic", "int8"],
                            help="TFLite only (default none = float32)")
        parser.add_argument("--calibration", nargs="+", default=None, metavar="DATA",
                            help="int8 representative data: videos, frame folders, directories or list files "
                                 "(required with --quantize int8)")
        parser.add_argument("--calibration-clips", type=A.positive_int, default=32, help="at most this many calibration clips")
        parser.add_argument("--temporal-impl", default="conv2d", choices=["conv2d", "conv3d"],
                            help="conv2d (default): temporal convs as shifted Conv2Ds, all int8; conv3d keeps CONV_3D")
        parser.add_argument("--threads", type=A.positive_int, default=2, help="interpreter threads for the parity run")
        parser.add_argument("--max-rel-diff", type=A.positive_float, default=None,
                            help="override the mode's parity threshold on max|diff| / max|logit|")
        parser.add_argument("--min-top1", type=A.unit_fraction, default=None, help="override the mode's minimum top-1 agreement")
    parser.add_argument("--parity-data", nargs="+", default=None, metavar="DATA",
                        help="real clips for the parity report (TFLite default: the --calibration data); "
                             "required unless --no-parity")
    parser.add_argument("--data-root", default=None, help="root of the paths in list files (default: the list's folder)")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity report")
    parser.add_argument("--json", action="store_true", help="print the parity report as one JSON line")


def _shape(model, args):
    from keras_gst.export.predictor import DEFAULT_NUM_FRAMES, DEFAULT_SIZE
    from keras_gst.export.rewrite import static_input_shape

    t, h, w = static_input_shape(model)
    t = args.frames or t or DEFAULT_NUM_FRAMES
    h = args.size or h or DEFAULT_SIZE
    w = args.size or w or DEFAULT_SIZE
    return t, (h, w)


DATA_HELP = "(videos, frame folders, directories or list files)"


def _missing_data(args):
    """The error for real clips the run needs and was not given, or None."""
    calibration = getattr(args, "calibration", None)
    if getattr(args, "quantize", "none") == "int8" and not calibration:
        return f"--quantize int8 calibrates on real clips: pass --calibration DATA {DATA_HELP}"
    tflite = args.format == "tflite" or (args.format == "streaming" and args.out.endswith(".tflite"))
    if not args.no_parity and not (args.parity_data or (calibration if tflite else None)):
        return f"the parity report runs on real clips: pass --parity-data DATA {DATA_HELP}, or --no-parity to skip it"
    return None


def _clips(sources, t, hw, max_clips, clips_per_video, root=None):
    from keras_gst.export.clips import load_clips

    if hw[0] != hw[1]:
        raise SystemExit(f"error: clips are square centre crops; got frame size {hw}")
    return load_clips(sources, t, hw[0], clips_per_video=clips_per_video, max_clips=max_clips, root=root)[0]


def run(args):
    missing = _missing_data(args)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    from keras_gst.export import (
        ClipReadError,
        OpAuditError,
        ParityError,
        convert_tflite,
        export_savedmodel,
        load_keras_model,
        savedmodel_parity,
        tflite_parity,
    )
    from keras_gst.export.rewrite import rewrite_for_export, static_input_shape
    from keras_gst.export.streaming_tflite import format_streaming_report
    from keras_gst.export.tflite import format_report

    model = load_keras_model(args.model)
    t, hw = _shape(model, args)
    fixed = static_input_shape(model)
    if any(f is not None and f != r for f, r in zip(fixed, (t,) + tuple(hw))):
        # The model fixes another T or frame size: rebuild it at the requested one (same weights); it is
        # also the reference of the parity report.
        try:
            model = rewrite_for_export(model, t, hw, temporal_impl=model.temporal_impl)
        except TypeError as e:
            print(f"error: {args.model} fixes input {fixed}, cannot export at {t}x{hw[0]}x{hw[1]}: {e}", file=sys.stderr)
            return 2
        print(f"rebuilt {args.model} for input {t}x{hw[0]}x{hw[1]} (the file fixes {fixed})")
    report = None
    try:
        if args.format == "streaming" and args.out.endswith(".tflite"):
            report = _streaming_tflite(model, args, t, hw)
        elif args.format == "streaming":
            from keras_gst.export.streaming import export_streaming_savedmodel

            if args.input_dtype != "float32":
                raise ValueError("--format streaming takes float32 (normalised) frames only")
            if args.quantize != "none":
                raise ValueError("--quantize applies to streaming .tflite files only (--out M.tflite)")
            stream = export_streaming_savedmodel(model, args.out)
            print(f"wrote streaming SavedModel {args.out} (frames {hw[0]}x{hw[1]}, delay {stream.delay} frames, "
                  f"{len(stream.state_shapes) + 2} state tensors)")
            if not args.no_parity:
                report = _streaming_parity(stream, model, _clips(args.parity_data, t, hw, None, 1, args.data_root))
        elif args.format == "savedmodel":
            export_savedmodel(model, args.out, num_frames=t, frame_size=hw, input_dtype=args.input_dtype)
            print(f"wrote SavedModel {args.out} (frames {t}x{hw[0]}x{hw[1]}, input {args.input_dtype}, dynamic batch)")
            if not args.no_parity:
                clips = _clips(args.parity_data, t, hw, None, 1, args.data_root)
                report = savedmodel_parity(model, args.out, clips, raise_on_failure=False)
        else:
            calibration = None
            if args.quantize == "int8":
                calibration = _clips(args.calibration, t, hw, args.calibration_clips, 2, args.data_root)
                print(f"calibrating on {len(calibration)} real clips")
            convert_tflite(model, args.out, args.quantize, calibration, t, hw, args.input_dtype, args.temporal_impl)
            print(f"wrote {args.out} ({args.quantize}, {_mb(args.out):.1f} MB)")
            if not args.no_parity:
                clips = _clips(args.parity_data or args.calibration, t, hw, None, 1, args.data_root)
                report = tflite_parity(model, args.out, clips, args.quantize, _thresholds(args),
                                       num_threads=args.threads, raise_on_failure=False)
    except (ClipReadError, OpAuditError, ParityError, TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if report is None:
        return 0
    if args.json:
        print(json.dumps(report))
    else:
        print("parity: " + (format_report(report) if args.format == "tflite" else
                            format_streaming_report(report) if "frames" in report else _format_savedmodel(report)))
    if not report["passed"]:
        print(f"error: {args.out} fails the parity check (kept for inspection)", file=sys.stderr)
        return 2
    return 0


def _thresholds(args):
    from keras_gst.export.tflite import PARITY_THRESHOLDS

    max_rel, min_top1 = PARITY_THRESHOLDS[args.quantize]
    return (args.max_rel_diff if args.max_rel_diff is not None else max_rel,
            args.min_top1 if args.min_top1 is not None else min_top1)


def _streaming_tflite(model, args, t, hw):
    """`--format streaming --out M.tflite`: the stream step as TFLite (int8 calibrated on real clips run
    frame by frame), then its parity report vs the fp32 stream and the offline clip model."""
    from keras_gst.export.streaming_tflite import convert_streaming_tflite, streaming_parity

    if args.input_dtype != "float32":
        raise ValueError("--format streaming takes float32 (normalised) frames only")
    calibration = None
    if args.quantize == "int8":
        calibration = _clips(args.calibration, t, hw, args.calibration_clips, 2, args.data_root)
        print(f"calibrating on {len(calibration)} real clips run frame by frame")
    stream = convert_streaming_tflite(model, args.out, args.quantize, calibration)
    print(f"wrote streaming {args.out} ({args.quantize}, {_mb(args.out):.1f} MB, frames {hw[0]}x{hw[1]}, "
          f"delay {stream.delay} frames)")
    if args.no_parity:
        return None
    clips = _clips(args.parity_data or args.calibration, t, hw, None, 1, args.data_root)
    return streaming_parity(model, args.out, clips, args.quantize, _thresholds(args), num_threads=args.threads,
                            raise_on_failure=False)


def _streaming_parity(stream, model, clips, tolerance=1e-5):
    """Stream vs offline clip logits on real clips (relative to the largest per-frame logit)."""
    import numpy as np

    from keras_gst.export.clips import normalize_clip
    from keras_gst.export.savedmodel import compare_logits

    x = normalize_clip(clips)
    _, clip = stream.run(x)
    report = compare_logits(np.asarray(model(x, training=False)), clip)
    report.update(format="streaming", input_dtype="float32", tolerance=tolerance,
                  passed=report["max_abs_diff"] <= tolerance * max(1.0, report["max_abs_logit"]))
    return report


def _format_savedmodel(report):
    return (f"{report['format']} ({report['input_dtype']} input): {report['clips']} real clips, max |logit diff| "
            f"{report['max_abs_diff']:.3g} (tolerance {report['tolerance']:g}), top-1 agreement "
            f"{report['top1_agreement']:.3f} -> {'OK' if report['passed'] else 'FAILED'}")


def _mb(path):
    import os

    return os.path.getsize(path) / 1e6
