"""Export GST models: SavedModel, TFLite (float32/fp16/dynamic/int8) with parity reports and an op audit;
streaming (frame by frame) SavedModel and TFLite, and their runners; the predict / eval / stream workflows
over any model file (`predict`, `evaluate_model`, `stream_source`) and the SavedModel op check."""

from keras_gst.export.audit import OpAuditError, audit_tflite, check_int8, float_compute_ops, format_audit, op_counts
from keras_gst.export.clips import ClipReadError, load_clip, load_clips, model_input, normalize_clip
from keras_gst.export.frozen import frozen_function
from keras_gst.export.rewrite import load_keras_model, rewrite_for_export
from keras_gst.export.savedmodel import ParityError, export_savedmodel, load_savedmodel, savedmodel_parity
from keras_gst.export.tflite import PARITY_THRESHOLDS, QUANTIZE_MODES, TFLiteModel, convert_tflite, convert_tflite_modes, tflite_parity
from keras_gst.export.streaming import StreamingGST, export_streaming_savedmodel
from keras_gst.export.streaming_tflite import convert_streaming_tflite, export_streaming_tflite, streaming_parity
from keras_gst.export.stream_runner import FrameStream, StreamKindError, load_stream, stream_source
from keras_gst.export.predictor import Predictor, load_predictor
from keras_gst.export.inference import EvalResult, Prediction, evaluate_model, predict
from keras_gst.export.trust import check_savedmodel, unsafe_ops
