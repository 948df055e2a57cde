from keras_gst.layers.frames import FrameConv2D, FrameGlobalAveragePooling, FrameMaxPooling2D
from keras_gst.layers.gst_block import C2DBlock, C3DBlock, GSTBlock, P3DBlock
