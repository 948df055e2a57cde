"""Same as `keras-gst bench inference` (the code is keras_gst/benchmarks/inference.py; see its --help)."""

import sys

from keras_gst.benchmarks.inference import main

if __name__ == "__main__":
    sys.exit(main())
