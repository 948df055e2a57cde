"""Export GST models: SavedModel, TFLite (float32/fp16/dynamic/int8) with parity reports and an op audit;
streaming (frame by frame) SavedModel and TFLite, and their runners. `export_model` is the whole workflow
(checks, calibration, conversion, audit, parity gate) that `keras-gst export` and `keras-gst train` run; the
predict / eval / stream workflows over any model file (`predict`, `evaluate_model`, `stream_source`) and the
SavedModel op check (`check_savedmodel`).

Names are imported on first use, so `keras_gst.export.workflow`'s argument checks load without TensorFlow.
"""

from keras_gst.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "keras_gst.export.errors": ("OpAuditError", "ParityError"),
    "keras_gst.export.audit": ("audit_tflite", "check_int8", "float_compute_ops", "format_audit",
                               "op_counts"),
    "keras_gst.export.clips": ("ClipReadError", "load_clip", "load_clips", "model_input", "normalize_clip"),
    "keras_gst.export.frozen": ("frozen_function",),
    "keras_gst.export.rewrite": ("load_keras_model", "rewrite_for_export"),
    "keras_gst.export.savedmodel": ("export_savedmodel", "load_savedmodel", "savedmodel_parity"),
    "keras_gst.export.tflite": ("PARITY_THRESHOLDS", "QUANTIZE_MODES", "TFLiteModel", "convert_tflite",
                                "convert_tflite_modes", "tflite_parity"),
    "keras_gst.export.streaming": ("StreamingGST", "export_streaming_savedmodel"),
    "keras_gst.export.streaming_tflite": ("convert_streaming_tflite", "export_streaming_tflite", "streaming_parity"),
    "keras_gst.export.stream_runner": ("FrameStream", "StreamKindError", "load_stream", "stream_source"),
    "keras_gst.export.predictor": ("Predictor", "load_predictor"),
    "keras_gst.export.inference": ("EvalResult", "Prediction", "evaluate_model", "predict"),
    "keras_gst.export.trust": ("check_savedmodel", "unsafe_ops"),
    "keras_gst.export.workflow": ("ExportResult", "check_export_arguments", "export_model"),
})
