"""Convert a .keras GST model to TFLite (none|fp16|dynamic|int8), audit it and report parity on real clips.

    python export/export_tflite.py --model MODEL.keras --quantize int8 --calibration DATA --out MODEL.tflite

DATA: videos, frame folders, directories of them, or list files (`--data-root` for their paths).
Exits with status 2 if the parity report fails the mode's thresholds or the int8 op audit fails.
Same flags as `keras-gst export --format tflite` (see keras_gst/commands/export.py, docs/export.md).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_gst.commands import export  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_arguments(parser, fixed_format="tflite")
    return export.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
