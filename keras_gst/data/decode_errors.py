"""The errors of video and frame decoding (`keras_gst.data.decode` re-exports them)."""


class VideoDecodeError(RuntimeError):
    """A video (or frame) that cannot be decoded; the message names the file."""


class DecodeTimeoutError(VideoDecodeError):
    pass


class ShortVideoError(VideoDecodeError):
    """The video ends before a requested frame; `decoded` frames really decode."""

    def __init__(self, path, decoded, requested):
        super().__init__(f"{path} ends after {decoded} decodable frames; frame {requested} was requested")
        self.path, self.decoded, self.requested = path, decoded, requested


class VideoEnded(Exception):
    """A reader's signal that the video ended before a wanted frame; `decoded` frames were read."""

    def __init__(self, decoded):
        super().__init__(decoded)
        self.decoded = decoded
