"""Benchmarks shipped with the package (`keras-gst bench NAME`); each benchmark module has `main(argv)`.

- inference: Keras/TF vs the PyTorch original, latency, train step, matmul peak, RSS
- export: size / latency / agreement of TFLite fp32, fp16, dynamic-range and int8 (needs real clips: --data)
- data: input pipeline clips/s vs the model's training step (needs real files: --data)

The inference benchmark's parts: peak (measured and theoretical fp32 peak), workers (one configuration per
subprocess), report (rows, table, ratios and their targets).
"""

BENCHMARKS = {
    "inference": "Keras/TF vs PyTorch latency, training step, matmul peak, peak RSS",
    "export": "size / latency / agreement of TFLite fp32, fp16, dynamic, int8 (real clips: --data)",
    "data": "input pipeline clips/s vs the GST-R50 training step (real files: --data)",
}
