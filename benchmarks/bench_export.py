"""Same as `keras-gst bench export` (the code is keras_gst/benchmarks/export.py; see its --help)."""

import sys

from keras_gst.benchmarks.export import main

if __name__ == "__main__":
    sys.exit(main())
