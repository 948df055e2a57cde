"""The convolution units and per-frame layers (Keras). Names are imported on first use, so
`keras_gst.layers.unit_args` (the units' argument checks) loads without Keras."""

from keras_gst.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "keras_gst.layers.frames": ("FrameGlobalAveragePooling", "FrameMaxPooling2D"),
    "keras_gst.layers.gst_block": ("C2DBlock", "C3DBlock", "FrameConvBN", "GSTBlock", "P3DBlock"),
})
