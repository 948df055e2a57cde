import os

import pytest


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """A tiny synthetic temporal dataset (2 classes, real mp4 files + list files)."""
    from keras_gst.data import write_synthetic_dataset

    root = tmp_path_factory.mktemp("synthetic")
    train, val, names = write_synthetic_dataset(root, num_videos_per_class=4, frames=8, size=40, seed=0, num_classes=2)
    return {"train": train, "val": val, "classes": os.path.join(root, "classes.txt"), "names": names}
