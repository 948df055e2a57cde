from keras_gst.layers.frames import FrameGlobalAveragePooling, FrameMaxPooling2D
from keras_gst.layers.gst_block import C2DBlock, C3DBlock, FrameConvBN, GSTBlock, P3DBlock
