"""Export a .keras GST model as a SavedModel (serving signature, dynamic batch) and check parity.

    python export/export_savedmodel.py --model MODEL.keras --out DIR [--input-dtype uint8] [--frames 8 --size 224]

Same flags as `keras-gst export --format savedmodel` (see keras_gst/commands/export.py, docs/export.md).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_gst.commands import export  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_arguments(parser, fixed_format="savedmodel")
    return export.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
