r"""EGTEA Gaze+ action recognition (106 actions, split 1): GST-ResNet-50, 8 frames (paper: 64.4 %; GST-R34 62.2 %).

Paper defaults (docs/paper.md: Sec. 4.1 and the authors' code): SGD momentum 0.9, lr 0.01 per 24 clips scaled
linearly to the global batch, x0.1 at epochs 50 and 60 of 70, weight decay 5e-4 on conv/dense kernels only,
gradient clip norm 20, dropout 0.3, ImageNet initialisation. Every default is a flag: see --help.

    python recipes/train_egtea.py --data-root DATA/EGTEA/cropped_clips \
        --train-annotations train_split1.txt --val-annotations test_split1.txt \
        --class-file action_idx.txt --output-dir runs/egtea_gst50

Videos: DATA_ROOT/<session>/<clip>.mp4 (the released cropped clips). --target verb / noun with
verb_idx.txt / noun_idx.txt trains the verb / noun model.
"""

import sys

from keras_gst.training import Recipe

DEFAULTS = Recipe(
    name="egtea_gst_resnet50",
    dataset="egtea",
    data_root="data/EGTEA/cropped_clips",
    train_annotations="data/EGTEA/train_split1.txt",
    val_annotations="data/EGTEA/test_split1.txt",
    class_file="data/EGTEA/action_idx.txt",
    target="action",
    num_frames=8,
    depth=50,
    output_dir="runs/egtea_gst_resnet50",
)


def main(argv=None):
    """`keras-gst train --recipe THIS_FILE ARGV`: these defaults, any flag overriding them (see --help)."""
    from keras_gst.cli import main as cli_main

    return cli_main(["train", "--recipe", __file__, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
