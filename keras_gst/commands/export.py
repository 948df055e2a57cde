"""`keras-gst export`: a .keras GST model -> SavedModel, TFLite or ONNX, with a parity report on real clips.

    keras-gst export --format savedmodel --model M.keras --out DIR --parity-data DATA [--input-dtype uint8]
    keras-gst export --format tflite --model M.keras --quantize int8 --calibration DATA --out M.tflite
    keras-gst export --format streaming --model M.keras --out M.tflite [--quantize int8 --calibration DATA]
    keras-gst export --format onnx --model M.keras --out M.onnx --parity-data DATA

The flags are the keyword arguments of `keras_gst.export.export_model` (this module parses, calls it and
prints). Exit status 2 for a bad flag value or combination (before anything is loaded), an unusable model
or data, a failed int8 op audit (nothing written), or a parity report beyond the mode's thresholds (the
file is kept for inspection).
"""

import json
import sys

from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail
from keras_gst.export.workflow import FORMATS

FLAGS = {}  # export_model keyword -> flag, filled as the flags are added


def _add(parser, flag, dest, **kwargs):
    FLAGS[dest] = flag
    parser.add_argument(flag, dest=dest, **kwargs)


def register(subparsers):
    parser = subparsers.add_parser("export", help="Export a .keras model to SavedModel, TFLite or ONNX, with parity report.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser):
    """The flags of the export command (dest = the `export_model` keyword)."""
    _add(parser, "--format", "format", required=True, choices=list(FORMATS),
         help="streaming: frame-by-frame SavedModel with init_states/call signatures, or with --out M.tflite the "
              "stream step as TFLite (any --quantize); onnx: Keras' ONNX export (batch 1, float32 frames; "
              "pip install \"keras-gst[onnx]\")")
    _add(parser, "--model", "model", required=True, help="the Keras model: a .keras file or a keras-hub preset directory")
    _add(parser, "--out", "out", required=True, help="output SavedModel directory, .tflite or .onnx file")
    _add(parser, "--frames", "num_frames", type=A.positive_int, default=None,
         help="T of the exported input (default: the model's, else 8)")
    _add(parser, "--size", "size", type=A.positive_int, default=None,
         help="frame height = width, >= 32 (default: the model's, else 224)")
    _add(parser, "--input-dtype", "input_dtype", default="float32", choices=["float32", "uint8"],
         help="float32: normalised frames; uint8: RGB pixels, ImageNet normalisation inside")
    _add(parser, "--quantize", "quantize", default="none", choices=["none", "fp16", "dynamic", "int8"],
         help="TFLite only (default none = float32)")
    _add(parser, "--calibration", "calibration", nargs="+", default=None, metavar="DATA",
         help="int8 representative data: videos, frame folders, directories or list files (required with "
              "--quantize int8; unreadable ones are skipped and counted)")
    _add(parser, "--calibration-clips", "max_calibration_clips", type=A.positive_int, default=32,
         help="at most this many calibration clips")
    _add(parser, "--temporal-impl", "temporal_impl", default="conv2d", choices=["conv2d", "conv3d"],
         help="conv2d (default): temporal convs as shifted Conv2Ds, all int8; conv3d keeps CONV_3D")
    _add(parser, "--threads", "threads", type=A.positive_int, default=2, help="interpreter threads for the parity run")
    _add(parser, "--max-rel-diff", "max_rel_diff", type=A.positive_float, default=None,
         help="override the mode's parity threshold on max|diff| / max|logit|")
    _add(parser, "--min-top1", "min_top1", type=A.unit_fraction, default=None,
         help="override the mode's minimum top-1 agreement")
    _add(parser, "--parity-data", "parity_data", nargs="+", default=None, metavar="DATA",
         help="real clips for the parity report (TFLite default: the --calibration data); required unless --no-parity")
    _add(parser, "--data-root", "data_root", default=None, help="root of the paths in list files (default: the list's folder)")
    _add(parser, "--no-parity", "parity", action="store_false", help="skip the parity report (the NaN check still runs)")
    parser.add_argument("--json", action="store_true", help="print the parity report as one JSON line")


def run(args):
    from keras_gst.locks import FolderLockedError
    from keras_gst.errors import KerasGSTError
    from keras_gst.export.errors import OpAuditError, ParityError
    from keras_gst.export.workflow import export_model

    options = {dest: getattr(args, dest) for dest in FLAGS}
    try:
        result = export_model(options.pop("model"), options.pop("out"), options.pop("format"), verbose=True, **options)
    except (KerasGSTError, FolderLockedError) as e:  # a bad flag, model or data; a busy --out
        return fail("export", e, FLAGS)
    except ParityError as e:
        _print_result(e.result, args.json)
        print(f"keras-gst export: error: {args.out} fails the parity check (kept for inspection)", file=sys.stderr)
        return 2
    except OpAuditError as e:
        print(f"keras-gst export: error: {e} (nothing written)", file=sys.stderr)
        return 2
    _print_result(result, args.json)
    return 0


def _print_result(result, as_json):
    from keras_gst.export.workflow import format_parity

    if result.skipped:
        path, reason = result.skipped[0]
        print(f"{len(result.skipped)} unreadable input(s) skipped, e.g. {reason}")
    if result.report is not None:
        print(json.dumps(result.report) if as_json else "parity: " + format_parity(result.report))
