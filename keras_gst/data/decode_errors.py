"""The errors of video and frame decoding (`keras_gst.data.decode` re-exports them)."""

import os


class VideoDecodeError(RuntimeError):
    """A video (or frame) that cannot be decoded; the message names the file.

    Example:

    ```python
    from keras_gst.data import VideoDecodeError, read_video_frames

    open("broken.mp4", "wb").close()  # an empty file
    try:
        read_video_frames("broken.mp4", [0])
    except VideoDecodeError as e:
        print(e)  # video file is empty (0 bytes): broken.mp4; re-download or remove it
    ```
    """


class DecodeTimeoutError(VideoDecodeError):
    """A decode that passed its wall-clock deadline (the `timeout` argument of the readers, opening the
    file included); the message names the file.

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import DecodeTimeoutError, read_video_frames

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    try:
        frames = read_video_frames("clip.mp4", [0, 7], timeout=30.0)
        print(frames.shape)  # (2, 48, 64, 3)
    except DecodeTimeoutError as e:
        # e.g. a file on a stalled network mount: report it and go on with the next one
        print(f"skipped: {e}")
    ```
    """


class ShortVideoError(VideoDecodeError):
    """The video ends before a requested frame; `decoded` frames really decode.

    Example:

    ```python
    import cv2
    import numpy as np

    from keras_gst.data import ShortVideoError, read_video_frames

    writer = cv2.VideoWriter("clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    try:
        read_video_frames("clip.mp4", [0, 20])
    except ShortVideoError as e:
        print(e.decoded, e.requested)  # 8 20
    ```
    """

    def __init__(self, path: str | os.PathLike, decoded: int, requested: int):
        super().__init__(f"{path} ends after {decoded} decodable frames; frame {requested} was requested")
        self.path, self.decoded, self.requested = path, decoded, requested


class VideoEnded(Exception):
    """A reader's signal that the video ended before a wanted frame; `decoded` frames were read."""

    def __init__(self, decoded: int):
        super().__init__(decoded)
        self.decoded = decoded
