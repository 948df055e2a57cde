from keras_gst.models.gst_resnet import (
    GSTResNet,
    GSTResNet18,
    GSTResNet34,
    GSTResNet50,
    GSTResNet101,
    feature_model,
    per_frame_model,
)
