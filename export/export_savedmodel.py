"""Export a .keras GST model as a SavedModel (serving signature, dynamic batch) and check parity.

    python export/export_savedmodel.py --model MODEL.keras --out DIR --parity-data DATA [--input-dtype uint8] [--frames 8 --size 224]

`keras-gst export --format savedmodel` with the same flags (docs/export.md); the workflow is
`keras_gst.export.export_model`.
"""

import sys

from keras_gst.cli import main as cli_main


def main(argv=None):
    return cli_main(["export", "--format", "savedmodel", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
