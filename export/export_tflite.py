"""Convert a .keras GST model to TFLite (none|fp16|dynamic|int8), audit it and report parity on real clips.

    python export/export_tflite.py --model MODEL.keras --quantize int8 --calibration DATA --out MODEL.tflite

DATA: videos, frame folders, directories of them, or list files (`--data-root` for their paths).
Exits with status 2 if the parity report fails the mode's thresholds or the int8 op audit fails.
`keras-gst export --format tflite` with the same flags (docs/export.md); the workflow is
`keras_gst.export.export_model`.
"""

import sys

from keras_gst.cli import main as cli_main


def main(argv=None):
    return cli_main(["export", "--format", "tflite", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
