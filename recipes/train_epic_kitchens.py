r"""EPIC-KITCHENS verb classification: GST-ResNet-50, 8 frames (paper: 56.5 % verb top-1).

Paper defaults (docs/paper.md: Sec. 4.1 and the authors' code): SGD momentum 0.9, lr 0.01 per 24 clips scaled
linearly to the global batch, x0.1 at epochs 50 and 60 of 70, weight decay 5e-4 on conv/dense kernels only,
gradient clip norm 20, dropout 0.3, ImageNet initialisation. Every default is a flag: see --help.

    python recipes/train_epic_kitchens.py --data-root DATA/EPIC_KITCHENS/rgb_frames \
        --train-annotations EPIC_train_action_labels.csv --val-annotations my_val_split.csv \
        --class-file EPIC_verb_classes.csv --target verb --output-dir runs/epic_verb_gst50

Frames: DATA_ROOT/<participant>/<video_id>/frame_0000000001.jpg (the official rgb_frames release;
--source videos reads DATA_ROOT/<participant>/<video_id>.MP4). --target noun (with the noun classes CSV)
trains the noun model; `keras-gst eval --epic-verb-scores/--epic-noun-scores` combines the two into
action accuracy.
"""

import sys

from keras_gst.training import Recipe

DEFAULTS = Recipe(
    name="epic_kitchens_verb_gst_resnet50",
    dataset="epic-kitchens",
    data_root="data/EPIC_KITCHENS/rgb_frames",
    train_annotations="data/EPIC_KITCHENS/EPIC_train_action_labels.csv",
    val_annotations=None,
    class_file="data/EPIC_KITCHENS/EPIC_verb_classes.csv",
    source="rawframes",
    target="verb",
    num_frames=8,
    depth=50,
    output_dir="runs/epic_kitchens_verb_gst_resnet50",
)


def main(argv=None):
    """`keras-gst train --recipe THIS_FILE ARGV`: these defaults, any flag overriding them (see --help)."""
    from keras_gst.cli import main as cli_main

    return cli_main(["train", "--recipe", __file__, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
