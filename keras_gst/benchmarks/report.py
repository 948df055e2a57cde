"""The inference benchmark's table and ratios: rows from worker results, the ratios with their targets.

Every ratio is named with its target, e.g. "gst_over_c2d, frozen, batch 1 (target <= MAC ratio 0.89)", and
kept as {"value", "target", "compare", "met"}: `met` is value <= target (or >= for the shares of peak).
"""

PAPER_GST_MAC_RATIO = 0.89  # GST-R50 / C2D-R50 MACs (29.0 G / 32.7 G, docs/paper.md): GST's time target over C2D
C2D_MODES = ("tf.function", "predict", "frozen")  # the Keras modes compared across models
# Keras GST / torch.compile+freezing, (batch 1, larger batches). "frozen" is the path users run (keras-gst predict /
# eval, keras_gst.export.predict and SavedModel serving run the frozen graph): <= 1.0x at batch 1, <= 0.8x batched
TORCH_TARGETS = {"tf.function": (1.0, 1.0), "predict": (1.0, 1.0), "frozen": (1.0, 0.8)}
PEAK_SHARE_TARGET = 0.85
HEADER = (f"{'framework':11} {'model':10} {'mode':12} {'batch':>5} {'size':>5} {'ms/clip':>9} {'GFLOP/s':>8} "
          f"{'%peak':>6} {'RSS MB':>7}")


def make_rows(configs, results, peak_gflops=None):
    """One row per configuration: its cfg and result, ms per clip, and for inference rows the achieved GFLOP/s
    (2 x MACs / time, MACs from the Keras rows of the same model) and its share of `peak_gflops`."""
    rows = [dict(cfg, **result) for cfg, result in zip(configs, results)]
    macs = {row["model"]: row["macs"] for row in rows if "macs" in row}
    for row in rows:
        if "seconds" not in row:
            continue
        row["ms_per_clip"] = 1000 * row["seconds"] / row["batch"]
        if row["mode"] != "train" and row["model"] in macs:
            row["gflops"] = 2 * macs[row["model"]] / (row["ms_per_clip"] / 1000) / 1e9
            if peak_gflops:
                row["peak_share"] = row["gflops"] / peak_gflops
    return rows


def format_row(row):
    text = f"{row['framework']:11} {row['model']:10} {row['mode']:12} {row['batch']:>5} {row['size']:>5} "
    text += f"{row['ms_per_clip']:>9.1f} " if "ms_per_clip" in row else f"{'ERROR':>9} "
    if "gflops" in row:
        text += f"{row['gflops']:>8.1f} {100 * row.get('peak_share', float('nan')):>5.0f}% "
    else:
        text += f"{'':>8} {'':>6} "
    text += f"{row['peak_rss_mb']:>7.0f}" if "peak_rss_mb" in row else row.get("error", "")
    if "logit_rel_diff" in row:  # bf16 and int8 rows: against their own fp32 model
        text += f"  vs fp32: logit rel diff {row['logit_rel_diff']:.2g}, top-1 agreement {row['top1_agreement']:.2f}"
    return text


def ratio(value, target, compare="<="):
    met = value <= target if compare == "<=" else value >= target
    return {"value": value, "target": target, "compare": compare, "met": met}


def compute_ratios(rows, peak_gflops=None, theoretical_gflops=None):
    """The benchmark's ratios (name -> `ratio`) for every batch that has the rows they need."""
    ms = {(r["framework"], r["model"], r["mode"], r["batch"]): r["ms_per_clip"] for r in rows if "ms_per_clip" in r}
    macs = {r["model"]: r["macs"] for r in rows if "macs" in r}
    models = list(dict.fromkeys(r["model"] for r in rows if r["framework"] == "keras" and r["model"] != "c2d"))
    batches = sorted({r["batch"] for r in rows if r["mode"] != "train"})
    out = {}
    for batch in batches:
        for mode in C2D_MODES:
            c2d = ms.get(("keras", "c2d", mode, batch))
            for model in models:
                mine = ms.get(("keras", model, mode, batch))
                if model == "gst":
                    target = PAPER_GST_MAC_RATIO
                elif model in macs and "c2d" in macs:
                    target = macs[model] / macs["c2d"]
                else:
                    continue
                if c2d and mine:
                    out[f"{model}_over_c2d, {mode}, batch {batch} (target <= MAC ratio {target:.2f})"] = ratio(
                        mine / c2d, target)
    for batch in batches:
        torch_compile = ms.get(("torch", "gst", "compile", batch))
        for mode, targets in TORCH_TARGETS.items():
            target = targets[0] if batch == 1 else targets[1]
            keras_gst = ms.get(("keras", "gst", mode, batch))
            if keras_gst and torch_compile:
                out[f"keras_gst_over_torch_compile, {mode}, batch {batch} (target <= {target:.2f})"] = ratio(
                    keras_gst / torch_compile, target)
    for batch in batches:
        frozen = ms.get(("keras", "gst", "frozen", batch))
        if not (frozen and "gst" in macs):
            continue
        gflops = 2 * macs["gst"] / (frozen / 1000) / 1e9
        for kind, peak in (("measured", peak_gflops), ("theoretical", theoretical_gflops)):
            if peak:
                out[f"gst_frozen_share_of_{kind}_peak, batch {batch} (target >= {PEAK_SHARE_TARGET:.2f})"] = ratio(
                    gflops / peak, PEAK_SHARE_TARGET, ">=")
    for batch in batches:
        bf16 = ms.get(("keras", "gst", "bf16", batch))
        for name, other in (("keras_fp32_frozen", ("keras", "gst", "frozen", batch)),
                            ("torch_bf16_compile", ("torch", "gst", "bf16", batch))):
            if bf16 and ms.get(other):
                out[f"keras_bf16_over_{name}, batch {batch} (target <= 1.00)"] = ratio(bf16 / ms[other], 1.0)
        frozen, onnx = ms.get(("keras", "gst", "frozen", batch)), ms.get(("onnxruntime", "gst", "fp32", batch))
        if frozen and onnx:
            out[f"keras_frozen_over_onnxruntime_fp32, batch {batch} (target <= 1.00)"] = ratio(frozen / onnx, 1.0)
        tflite = ms.get(("tflite", "gst", "int8", batch))
        for name in ("torch", "onnxruntime"):
            other = ms.get((name, "gst", "int8", batch))
            if tflite and other:
                out[f"tflite_int8_over_{name}_int8, batch {batch} (target <= 1.00)"] = ratio(tflite / other, 1.0)
    for batch in sorted({r["batch"] for r in rows if r["mode"] == "train"}):
        keras_step = ms.get(("keras", "gst", "train", batch))
        for name, mode in (("eager", "train"), ("compile", "train_compile")):
            torch_step = ms.get(("torch", "gst", mode, batch))
            if keras_step and torch_step:
                out[f"train_step_keras_over_torch_{name}, batch {batch} (target <= 1.00)"] = ratio(
                    keras_step / torch_step, 1.0)
    return out


def format_ratio(name, r):
    return f"{name}: {r['value']:.3f} {'met' if r['met'] else 'missed'}"
