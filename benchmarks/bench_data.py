"""Same as `keras-gst bench data` (the code is keras_gst/benchmarks/data.py; see its --help)."""

import sys

from keras_gst.benchmarks.data import main

if __name__ == "__main__":
    sys.exit(main())
