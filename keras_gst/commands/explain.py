"""`keras-gst explain VIDEO --model MODEL`: the paper's Fig. 5, per-frame class probabilities over time
for one video (or frame folder), as a PNG, and the clip's top predictions."""


def register(subparsers):
    p = subparsers.add_parser("explain", help="Fig. 5: per-frame class probabilities over time for one video.",
                              description=__doc__)
    p.add_argument("video", help="video file or frame folder")
    p.add_argument("--model", required=True, help="saved model (.keras or preset directory)")
    p.add_argument("--class-file", default=None, help="class names (label map, one a line, or any reader's class file via --dataset)")
    p.add_argument("--frames", type=int, default=None, help="frames sampled (default: the model's, else 8)")
    p.add_argument("--scale-size", type=int, default=256)
    p.add_argument("--crop-size", type=int, default=None, help="default: the model's input size, else 224")
    p.add_argument("--top-k", type=int, default=5, help="classes drawn")
    p.add_argument("--output", default="explain.png")
    p.set_defaults(func=run)


def run(args):
    import os

    import keras
    import numpy as np

    from keras_gst.analysis.bn import frame_probabilities, plot_frame_probabilities
    from keras_gst.data import VideoRecord, build_dataset, read_label_map
    from keras_gst.models import load_model

    model = load_model(args.model, preprocessor=False)  # the pipeline below normalises the clip
    frames = args.frames or getattr(model, "num_frames", None) or 8
    crop = args.crop_size or getattr(model, "frame_shape", (None,))[0] or 224
    if not os.path.exists(args.video):
        raise SystemExit(f"no such video or frame folder: {args.video}")
    record = VideoRecord(args.video, None, 0)
    template = "auto" if os.path.isdir(args.video) else "{:05d}.jpg"
    ds = build_dataset([record], num_frames=frames, training=False, batch_size=1, num_classes=model.num_classes,
                       template=template, scale_size=args.scale_size, crop_size=crop)
    clip = next(iter(ds))[0][0].numpy()
    names = read_label_map(args.class_file) if args.class_file else None
    probs = frame_probabilities(model, clip)
    top = plot_frame_probabilities(probs, args.output, names, top_k=args.top_k,
                                   title=f"{os.path.basename(args.video.rstrip('/'))}: per-frame probabilities ({model.name})")
    clip_probs = np.asarray(keras.ops.softmax(model.predict(clip[None], verbose=0)[0]))
    print(f"{os.path.basename(args.video.rstrip('/'))}: {frames} frames; clip prediction:")
    for i in np.argsort(-clip_probs)[: args.top_k]:
        print(f"  {clip_probs[i]:.3f}  {names[i] if names and i < len(names) else i}")
    print("per-frame argmax:", " ".join(str(int(i)) for i in probs.argmax(axis=1)))
    print(f"wrote {args.output} (classes drawn: {top})")
    return 0
