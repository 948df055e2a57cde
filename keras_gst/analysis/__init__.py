from keras_gst.analysis.bn import (
    bn_gamma_split,
    frame_probabilities,
    gamma_histograms,
    gamma_summary,
    plot_frame_probabilities,
    plot_gamma_histograms,
)
from keras_gst.analysis.complexity import count_macs, count_params

