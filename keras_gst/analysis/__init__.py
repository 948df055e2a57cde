from keras_gst.analysis.complexity import count_macs, count_params
