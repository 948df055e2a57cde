"""The inference benchmark's int8 and ONNX Runtime workers, each one configuration of `workers.spawn`:

- tflite, int8: the all-int8 TFLite file of the Keras model (`convert_tflite`, temporal convs as Conv2Ds,
  full-integer ops audited), run with the TFLite interpreter (XNNPACK);
- torch_int8, int8: the PyTorch model quantized with PT2E and torchao's `X86InductorQuantizer` (static,
  per-channel weights), then `torch.compile` with inductor freezing (oneDNN int8 kernels);
- onnxruntime, fp32 / int8: the Keras model's own ONNX export (`keras_gst.export.onnx_export`), and its static
  int8 QDQ form (`onnxruntime.quantization.quantize_static`, per-channel weights), on ONNX Runtime's CPU provider.

All three calibrate on the same `CALIBRATION_CLIPS` seeded clips and report the top-1 agreement (and relative
logit difference) of the int8 model with its own fp32 model on `AGREEMENT_CLIPS` other seeded clips. The
weights are random (seeded), the clips noise: the agreement shows the quantization error's size, not accuracy.
Batch 1 only (the int8 files take one clip).
"""

import os
import tempfile

import numpy as np

from keras_gst.benchmarks.workers import keras_model, logit_error, timed, torch_model

CALIBRATION_CLIPS, AGREEMENT_CLIPS = 4, 8


def clips(cfg):
    """(calibration pixels, calibration, agreement, timed input): seeded clips (N, T, H, W, 3), the same in every
    worker; pixels in [0, 255], the others normalised float32 (what the models take)."""
    from keras_gst.export.clips import normalize_clip

    rng = np.random.default_rng(2)
    shape = (CALIBRATION_CLIPS + AGREEMENT_CLIPS, cfg["frames"], cfg["size"], cfg["size"], 3)
    pixels = rng.uniform(0, 255, shape).astype(np.float32)
    x = normalize_clip(pixels)
    return pixels[:CALIBRATION_CLIPS], x[:CALIBRATION_CLIPS], x[CALIBRATION_CLIPS:], x[:1]


def _keras_setup(cfg, temporal_impl):
    """The Keras model, its MACs and its fp32 logits on the agreement clips."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model, macs = keras_model(cfg, temporal_impl=temporal_impl)
    reference = np.concatenate([np.asarray(model(c[None], training=False)) for c in clips(cfg)[2]])
    return model, macs, reference


def worker_tflite(cfg):
    from keras_gst.export.tflite import TFLiteModel, convert_tflite

    model, macs, reference = _keras_setup(cfg, "conv2d")  # conv2d: TFLite has no int8 CONV_3D
    pixels, _, agreement, x = clips(cfg)
    with tempfile.TemporaryDirectory(prefix="keras_gst_bench_") as tmp:
        path = convert_tflite(model, os.path.join(tmp, "int8.tflite"), "int8", pixels, input_dtype="float32")
        tflite = TFLiteModel(path, num_threads=cfg["threads"])
        candidate = tflite(agreement)["logits"]
        seconds = timed(lambda: tflite(x), cfg["repeats"])
    return {"seconds": seconds, "macs": macs, **logit_error(reference, candidate)}


def worker_onnxruntime(cfg):
    from keras_gst.export.onnx_export import ONNXModel, export_onnx

    model, macs, reference = _keras_setup(cfg, "conv3d")
    _, calibration, agreement, x = clips(cfg)
    with tempfile.TemporaryDirectory(prefix="keras_gst_bench_") as tmp:
        path = export_onnx(model, os.path.join(tmp, "fp32.onnx"), (cfg["frames"], cfg["size"], cfg["size"]))
        if cfg["mode"] == "int8":
            from onnxruntime import quantization as q

            class Reader(q.CalibrationDataReader):
                def __init__(self):
                    self.feeds = iter([{"frames": c[None]} for c in calibration])

                def get_next(self):
                    return next(self.feeds, None)

            path, fp32 = os.path.join(tmp, "int8.onnx"), path
            q.quantize_static(fp32, path, Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                              activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8)
        onnx_model = ONNXModel(path, num_threads=cfg["threads"])
        candidate = onnx_model(agreement)
        seconds = timed(lambda: onnx_model(x), cfg["repeats"])
    return {"seconds": seconds, "macs": macs, **logit_error(reference, candidate)}


def worker_torch_int8(cfg):
    import torch
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from keras_gst.benchmarks.torch_reference import clip_to_torch
    from keras_gst.private_api import frozen_torch_compile

    model = torch_model(cfg).eval()
    _, calibration, agreement, x = (clip_to_torch(c) for c in clips(cfg))
    with torch.no_grad():
        reference = torch.cat([model(c[None]) for c in agreement]).numpy()
        exported = torch.export.export(model, (x,)).module()
        quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
        prepared = prepare_pt2e(exported, quantizer)
        for c in calibration:
            prepared(c[None])
        converted = convert_pt2e(prepared)
        # freezing: weights as constants, oneDNN's int8 kernels with prepacked weights
        compiled = frozen_torch_compile(converted)
        candidate = torch.cat([compiled(c[None]) for c in agreement]).numpy()
        seconds = timed(lambda: compiled(x), cfg["repeats"])
    return {"seconds": seconds, **logit_error(reference, candidate)}
