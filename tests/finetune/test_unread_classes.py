"""A class whose every training clip is unreadable is named in a warning after training (before: `train --data`
with such a class folder ended as a success, the model never having seen the class; its only trace was
"3 unreadable training files were skipped")."""

from keras_gst.data import Annotations, VideoRecord
from keras_gst.training.finetune import unread_class_warnings


def test_a_class_with_no_readable_clip_is_named_and_only_it():
    records = [VideoRecord(f"/d/left/{i}.mp4", None, 0) for i in range(3)]
    records += [VideoRecord(f"/d/right/{i}.mp4", None, 1) for i in range(3)]
    train = Annotations(records, ["left", "right"])
    skipped = ["/d/right/0.mp4", "/d/right/1.mp4", "/d//right/2.mp4", "/d/left/0.mp4"]  # the pipeline's paths
    messages = unread_class_warnings(train, skipped, train.class_names)
    assert len(messages) == 1 and messages[0].startswith("class 'right' (label 1): none of its 3 training clips")
    assert unread_class_warnings(train, skipped[:2] + skipped[3:], train.class_names) == []  # one right clip read
