r"""Something-Something V2: GST-ResNet-50, 8 frames (paper: 61.6 % top-1; 16 frames 62.6 %).

Paper defaults (docs/paper.md: Sec. 4.1 and the authors' code): SGD momentum 0.9, lr 0.01 per 24 clips scaled
linearly to the global batch, x0.1 at epochs 50 and 60 of 70, weight decay 5e-4 on conv/dense kernels only,
gradient clip norm 20, dropout 0.3, ImageNet initialisation. Every default is a flag: see --help.

    python recipes/train_something_v2.py --data-root DATA/20bn-something-something-v2 \
        --train-annotations something-something-v2-train.json --val-annotations something-something-v2-validation.json \
        --class-file something-something-v2-labels.json --output-dir runs/sthv2_gst50_8f

Videos: DATA_ROOT/<id>.webm (the official release; --source rawframes reads DATA_ROOT/<id>/ frame
folders instead). Horizontal flip swaps the left/right classes (86<->87, 93<->94, 166<->167).
"""

import sys

from keras_gst.training import Recipe

DEFAULTS = Recipe(
    name="sthv2_gst_resnet50",
    dataset="sthv2",
    data_root="data/something-something-v2/20bn-something-something-v2",
    train_annotations="data/something-something-v2/something-something-v2-train.json",
    val_annotations="data/something-something-v2/something-something-v2-validation.json",
    class_file="data/something-something-v2/something-something-v2-labels.json",
    source="videos",
    num_frames=8,
    depth=50,
    output_dir="runs/sthv2_gst_resnet50_8f",
)


def main(argv=None):
    """`keras-gst train --recipe THIS_FILE ARGV`: these defaults, any flag overriding them (see --help)."""
    from keras_gst.cli import main as cli_main

    return cli_main(["train", "--recipe", __file__, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
