r"""Diving48 (V2 annotations): GST-ResNet-50, 16 frames (paper: 38.8 % top-1; GST-R18 34.2 %).

Paper defaults (docs/paper.md: Sec. 4.1 and the authors' code): SGD momentum 0.9, lr 0.01 per 24 clips scaled
linearly to the global batch, x0.1 at epochs 50 and 60 of 70, weight decay 5e-4 on conv/dense kernels only,
gradient clip norm 20, dropout 0.3, ImageNet initialisation. Every default is a flag: see --help.

    python recipes/train_diving48.py --data-root DATA/Diving48/rgb \
        --train-annotations Diving48_V2_train.json --val-annotations Diving48_V2_test.json \
        --class-file Diving48_vocab.json --output-dir runs/diving48_gst50_16f

Videos: DATA_ROOT/<vid_name>.mp4 (the official rgb release), segments [start_frame, end_frame).
No horizontal flip problem: the 48 dive classes have no left/right names.
"""

import sys

from keras_gst.training import Recipe

DEFAULTS = Recipe(
    name="diving48_gst_resnet50",
    dataset="diving48",
    data_root="data/Diving48/rgb",
    train_annotations="data/Diving48/Diving48_V2_train.json",
    val_annotations="data/Diving48/Diving48_V2_test.json",
    class_file="data/Diving48/Diving48_vocab.json",
    source="videos",
    num_frames=16,
    depth=50,
    output_dir="runs/diving48_gst_resnet50_16f",
)


def main(argv=None):
    """`keras-gst train --recipe THIS_FILE ARGV`: these defaults, any flag overriding them (see --help)."""
    from keras_gst.cli import main as cli_main

    return cli_main(["train", "--recipe", __file__, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
