r"""Something-Something V1: GST-ResNet-50, 8 frames (paper: 47.0 % top-1; 16 frames 48.6 %).

Paper defaults (docs/paper.md: Sec. 4.1 and the authors' code): SGD momentum 0.9, lr 0.01 per 24 clips scaled
linearly to the global batch, x0.1 at epochs 50 and 60 of 70, weight decay 5e-4 on conv/dense kernels only,
gradient clip norm 20, dropout 0.3, ImageNet initialisation. Every default is a flag: see --help.

    python recipes/train_something_v1.py --data-root DATA/20bn-something-something-v1 \
        --train-annotations something-something-v1-train.csv --val-annotations something-something-v1-validation.csv \
        --class-file something-something-v1-labels.csv --output-dir runs/sthv1_gst50_8f

Frames: DATA_ROOT/<id>/00001.jpg (the official JPEG release). Horizontal flip swaps the left/right
classes (pairs derived from the label names).
"""

import sys

from keras_gst.training import Recipe

DEFAULTS = Recipe(
    name="sthv1_gst_resnet50",
    dataset="sthv1",
    data_root="data/something-something-v1/20bn-something-something-v1",
    train_annotations="data/something-something-v1/something-something-v1-train.csv",
    val_annotations="data/something-something-v1/something-something-v1-validation.csv",
    class_file="data/something-something-v1/something-something-v1-labels.csv",
    num_frames=8,
    depth=50,
    output_dir="runs/sthv1_gst_resnet50_8f",
)


def main(argv=None):
    """`keras-gst train --recipe THIS_FILE ARGV`: these defaults, any flag overriding them (see --help)."""
    from keras_gst.cli import main as cli_main

    return cli_main(["train", "--recipe", __file__, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
