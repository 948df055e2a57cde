from keras_gst.analysis.bn import (
    bn_gamma_split,
    frame_probabilities,
    gamma_histograms,
    gamma_summary,
    plot_frame_probabilities,
    plot_gamma_histograms,
)
from keras_gst.analysis.complexity import count_macs, count_params

# Registers the training optimiser (GSTSGD) with Keras, so models saved by `keras_gst.training.fit`
# (which include their optimizer) load after a plain `import keras_gst`.
import keras_gst.training.optim  # noqa: E402,F401
