"""`keras-gst convert-torch`: a PyTorch checkpoint (the authors' GST, or torchvision ImageNet) -> a keras-hub
preset directory (or a .keras / .weights.h5 file).

    keras-gst convert-torch gst_ssv2_8f.pth.tar --labels ssv2_labels.txt --out gst_r50_ssv2_8f
    keras-gst convert-torch CHECKPOINT --model gst_resnet50 --alpha 0.25 --beta 0.5 --num-classes 174 --out DIR
    keras-gst convert-torch --imagenet resnet34.pth --num-classes 48 --out gst_r34_imagenet.keras
    keras-gst convert-torch gst_ssv2_8f.pth.tar --dtype mixed_bfloat16 --out gst_r50_ssv2_8f_bf16

A preset directory (config.json, model.weights.h5, task.json, task.weights.h5, preprocessor.json,
video_converter.json, metadata.json, labels.txt with --labels) loads with
`keras_gst.GSTVideoClassifier.from_preset(DIR)` and goes wherever keras-gst takes a .keras file.

Architecture flags left out are read from the checkpoint (depth from the block counts, alpha and beta from
the first GST unit's kernels, classes from the classifier); flags given must agree with it. With
--imagenet only the depth comes from the file; alpha 0.25, beta 0.5 and 174 classes unless given. See
docs/convert.md.
"""

import argparse
import os

from keras_gst.commands import argtypes as A
from keras_gst.commands.info import add_model_arguments, build_model_from_args

DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")


def register(subparsers):
    parser = subparsers.add_parser(
        "convert-torch",
        help="Convert a PyTorch checkpoint (authors' GST or torchvision ImageNet ResNet) to a Keras model.",
        description=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", help="a .pth / .pth.tar file (read with torch.load(weights_only=True))")
    parser.add_argument(
        "--imagenet",
        action="store_true",
        help="the checkpoint is a torchvision ImageNet ResNet: build an ImageNet-initialised (untrained) model",
    )
    add_model_arguments(parser)
    # None = read from the checkpoint
    parser.set_defaults(model=None, alpha=None, beta=None, num_classes=None)
    parser.add_argument("--num-frames", type=A.positive_int, default=None, help="fix T in the saved model (default: any)")
    parser.add_argument("--temporal-impl", default="conv3d", choices=["conv3d", "conv2d"])
    parser.add_argument("--dtype", default="float32", choices=DTYPES,
                        help="Keras dtype policy of the saved model (a preset / .keras file reloads in it)")
    parser.add_argument(
        "--no-head", action="store_true", help="do not load the authors' classifier (keep a fresh head of --num-classes)"
    )
    parser.add_argument("--out", default=None,
                        help="output preset directory (default <checkpoint name>), or a .keras / .weights.h5 file")
    parser.add_argument("--labels", default=None,
                        help="class names, one a line in class-index order: written to the preset as labels.txt")
    parser.add_argument("--size", type=A.frame_size, default=None,
                        help="frame size of the preset's preprocessor, 32..1024 (default: the model's, else 224)")
    parser.set_defaults(func=run)


def _fill_from_checkpoint(args, info):
    """Set architecture flags the user left out from the checkpoint description; reject contradictions."""
    problems = []
    depth = info["depth"]
    if depth is None:
        raise SystemExit(f"error: {args.checkpoint}: {info['block_type']} blocks {info['blocks']} is no ResNet-18/34/50/101")
    if args.model is None:
        args.model = f"gst_resnet{depth}"
    elif args.model != f"gst_resnet{depth}":
        problems.append(f"--model {args.model}, but the checkpoint is a ResNet-{depth}")
    if info["source"] == "authors":
        if args.block != "gst":
            problems.append(f"--block {args.block}, but the authors' checkpoints are GST models")
        for name in ("alpha", "beta"):
            value = getattr(args, name)
            if value is None:
                setattr(args, name, info[name])
            elif abs(value - info[name]) > 1e-6:
                problems.append(f"--{name} {value}, but the checkpoint has {name}={info[name]:g}")
        if args.num_classes is None:
            args.num_classes = info["num_classes"]
        elif args.num_classes != info["num_classes"] and not args.no_head:
            problems.append(
                f"--num-classes {args.num_classes}, but the checkpoint's classifier has {info['num_classes']} "
                f"(add --no-head to start a new classifier)"
            )
    else:
        args.alpha = 0.25 if args.alpha is None else args.alpha
        args.beta = 0.5 if args.beta is None else args.beta
        args.num_classes = 174 if args.num_classes is None else args.num_classes
    if problems:
        raise SystemExit("error: " + "; ".join(problems))


def run(args):
    from keras_gst.locks import FolderLockedError

    try:
        return _convert(args)
    except (FileNotFoundError, ImportError, TypeError, ValueError, FolderLockedError) as error:
        raise SystemExit(f"error: {error}") from error


def _convert(args):
    from keras_gst.atomic import atomic_dir, atomic_path
    from keras_gst.locks import replace_lock
    from keras_gst.weights.torch_convert import describe_state, load_torch_weights, read_checkpoint

    state, meta = read_checkpoint(args.checkpoint)
    info = describe_state(state, meta)
    if args.imagenet and info["source"] != "torchvision":
        raise SystemExit(f"error: --imagenet, but {args.checkpoint} is a GST checkpoint of the authors (drop --imagenet)")
    if not args.imagenet and info["source"] == "torchvision":
        raise SystemExit(
            f"error: {args.checkpoint} is a torchvision ImageNet ResNet, not a trained GST model; pass --imagenet "
            f"to build an ImageNet-initialised model"
        )
    _fill_from_checkpoint(args, info)
    out = args.out or os.path.basename(args.checkpoint).split(".")[0]
    if os.path.isfile(out) and not out.endswith((".keras", ".weights.h5")):
        raise SystemExit(f"error: --out {out} is an existing file; give a preset directory, .keras or .weights.h5")
    labels = _read_labels(args.labels, args.num_classes) if args.labels else None
    model = build_model_from_args(args, num_frames=args.num_frames, temporal_impl=args.temporal_impl,
                                  dtype=args.dtype)
    report = load_torch_weights(model, {"state_dict": state, **meta}, include_head=not args.no_head)
    with replace_lock(out, "keras-gst convert-torch"):  # one writer; the old output stays until the new one is whole
        if out.endswith((".weights.h5", ".keras")):
            with atomic_path(out) as tmp:
                (model.save_weights if out.endswith(".weights.h5") else model.save)(tmp)
        else:
            with atomic_dir(out) as tmp:
                _save_preset(model, tmp, labels, args.size)
    arch = f"{model.name}, alpha={model.alpha:g}, beta={model.beta:g}" if model.block == "gst" else model.name
    print(f"{args.checkpoint} -> {out}")
    print(f"  model: {arch}, {model.num_classes} classes, dtype {model.dtype_policy.name}")
    for line in str(report).splitlines():
        print(f"  {line}")
    if labels:
        print(f"  labels: {len(labels)} class names in {os.path.join(out, 'labels.txt')}")
    return 0


def _read_labels(path, num_classes):
    from keras_gst.data import read_label_map

    if not os.path.isfile(path):
        raise SystemExit(f"error: --labels {path}: no such file")
    names = read_label_map(path)
    if len(names) != num_classes:
        raise SystemExit(f"error: --labels {path} has {len(names)} class names, the model has {num_classes} classes")
    return names


def _save_preset(model, out, labels, size):
    """`save_to_preset` with GST's preprocessor (uint8 / [0, 255] clips -> the model's frames, normalised)
    and labels.txt."""
    from keras_gst.data import write_labels
    from keras_gst.models import GSTVideoClassifierPreprocessor

    model.preprocessor = GSTVideoClassifierPreprocessor.for_image_shape((size, size, 3) if size else model.frame_shape)
    model.save_to_preset(out)
    if labels:
        write_labels(os.path.join(out, "labels.txt"), labels)
