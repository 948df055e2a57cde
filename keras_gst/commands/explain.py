"""`keras-gst explain VIDEO --model MODEL`: the paper's Fig. 5, per-frame class probabilities over time
for one video (or frame folder), as a PNG, and the clip's top predictions.

The clip is the one `keras-gst predict` classifies: the model's T and frame size, and the short side
resized to size * 256 / 224 before the centre crop (unless --frames / --size / --scale-size say otherwise).
"""

from keras_gst.commands import add_hidden_alias
from keras_gst.commands import argtypes as A
from keras_gst.commands.report import fail


def register(subparsers):
    p = subparsers.add_parser("explain", help="Fig. 5: per-frame class probabilities over time for one video.",
                              description=__doc__)
    p.add_argument("video", help="video file or frame folder")
    p.add_argument("--model", required=True, help="saved model (.keras or preset directory)")
    p.add_argument("--labels", default=None, help="class names, one per line, in class-index order")
    add_hidden_alias(p, "--class-file", dest="labels")
    p.add_argument("--frames", type=A.positive_int, default=None, help="frames sampled, 1..256 (default: the model's, else 8)")
    p.add_argument("--size", "--crop-size", dest="size", type=A.positive_int, default=None,
                   help="crop size, 32..1024 (default: the model's input size, else 224)")
    p.add_argument("--scale-size", type=A.positive_int, default=None,
                   help="short side before the centre crop (default: size * 256 / 224, as predict)")
    p.add_argument("--topk", type=A.positive_int, default=5, help="classes printed and drawn")
    add_hidden_alias(p, "--top-k", dest="topk", type=A.positive_int)
    p.add_argument("--output", "--out", dest="output", default="explain.png", help="PNG to write (default explain.png)")
    p.set_defaults(func=run)


FLAGS = {"model": "--model", "video": "VIDEO", "labels": "--labels", "num_frames": "--frames", "size": "--size",
         "scale_size": "--scale-size", "top_k": "--topk", "output": "--output"}


def run(args):
    from keras_gst.errors import KerasGSTError

    try:
        _check(args)  # every flag before the model is loaded
        return _explain(args)
    except KerasGSTError as e:
        return fail("explain", e, FLAGS)


def _check(args):
    from keras_gst.checks import check_input, check_model_path, check_output, check_range, check_views

    check_views(args.frames, args.size, scale_size=args.scale_size)
    check_range("top_k", args.topk, 1, None)
    check_model_path(args.model)
    check_input("video", args.video, "video file or frame folder")
    if args.labels:
        check_input("labels", args.labels, "class name file")
    check_output("output", args.output)


def _explain(args):
    import os

    import keras
    import numpy as np

    from keras_gst.analysis.bn import frame_probabilities, plot_frame_probabilities
    from keras_gst.data import DataSpec, SkipLog, VideoRecord, build_dataset
    from keras_gst.errors import DataFileError, ParameterError
    from keras_gst.export.clips import scale_size_for
    from keras_gst.export.predictor import read_labels
    from keras_gst.models import load_model

    model = load_model(args.model, preprocessor=False)  # the pipeline below normalises the clip
    frames = args.frames or getattr(model, "num_frames", None) or 8
    crop = args.size or getattr(model, "frame_shape", (None,))[0] or 224
    names = read_labels(args.labels) if args.labels else None
    if names is not None and len(names) != model.num_classes:
        raise ParameterError("labels", f"{args.labels} has {len(names)} class names, the model has "
                                       f"{model.num_classes} classes: pass the labels the model was trained with")
    record = VideoRecord(args.video, None, 0)
    template = "auto" if os.path.isdir(args.video) else "{:05d}.jpg"
    spec = DataSpec(num_frames=frames, crop_size=crop, scale_size=args.scale_size or scale_size_for(crop),
                    template=template, on_error="skip")
    skip_log = SkipLog()  # a decode error is logged there (tf.data's own error text would wrap it in graph names)
    ds = build_dataset([record], spec, batch_size=1, num_classes=model.num_classes, skip_log=skip_log)
    clip = next(iter(ds), None)
    if clip is None:
        reasons = [reason for _, reason in skip_log.items]
        raise DataFileError(args.video, f"cannot read it: {reasons[0] if reasons else 'no clip'}", "video")
    clip = clip[0][0].numpy()
    probs = frame_probabilities(model, clip)
    top_k = min(args.topk, model.num_classes)
    top = plot_frame_probabilities(probs, args.output, names, top_k=top_k,
                                   title=f"{os.path.basename(args.video.rstrip('/'))}: per-frame probabilities ({model.name})")
    clip_probs = np.asarray(keras.ops.softmax(model.predict(clip[None], verbose=0)[0]))
    print(f"{os.path.basename(args.video.rstrip('/'))}: {frames} frames; clip prediction:")
    for i in np.argsort(-clip_probs)[:top_k]:
        print(f"  {clip_probs[i]:.3f}  {names[i] if names else i}")
    print("per-frame argmax:", " ".join(str(int(i)) for i in probs.argmax(axis=1)))
    print(f"wrote {args.output} (classes drawn: {top})")
    return 0
