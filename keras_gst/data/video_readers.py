"""Video readers behind `keras_gst.data.decode`: OpenCV (FFmpeg backend) and PyAV, each opened within a
deadline (`open_reader`), yielding only the frames a clip needs; plus `quiet_decoder_logs`, which keeps
OpenCV's and FFmpeg's own log lines (``[h264 @ 0x...] Invalid NAL unit size``, ``[ WARN:0@18.3] global
cap.cpp ...``) off stderr: decode problems reach the user as this package's errors, skips and warnings.
"""

import logging
import os
import threading
import time

import cv2

from keras_gst.data.decode_errors import DecodeTimeoutError, VideoDecodeError, VideoEnded

logger = logging.getLogger(__name__)

FFMPEG_LOG_LEVEL = "OPENCV_FFMPEG_LOGLEVEL"  # FFmpeg's AV_LOG_* number: -8 quiet, 16 error, 24 warning, 32 info
OPENCV_LOG_LEVEL = "OPENCV_LOG_LEVEL"  # OpenCV's own: SILENT, FATAL, ERROR, WARNING, INFO, DEBUG
_AV_LOG_QUIET = -8
_configured = set()


def quiet_decoder_logs(decoder):
    """Keep `decoder`'s ("opencv" or "pyav") own log lines off stderr, once per process, before its first
    use here (every reader, and `synthetic.write_video`). Those lines name no file and repeat what this
    package reports as an error, a skip or a warning. The environment decides when it says otherwise:
    `OPENCV_FFMPEG_LOGLEVEL` (FFmpeg's level; OpenCV reads it once, when its FFmpeg backend starts, so a
    process that used OpenCV's FFmpeg before keeps OpenCV's default; PyAV gets the same level) and
    `OPENCV_LOG_LEVEL` (OpenCV's own); `keras-gst extract-frames/shard --verbose` sets both to show
    everything."""
    if decoder in _configured:
        return
    _configured.add(decoder)
    os.environ.setdefault(FFMPEG_LOG_LEVEL, str(_AV_LOG_QUIET))
    if decoder == "opencv" and OPENCV_LOG_LEVEL not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    if decoder == "pyav":
        import av.logging

        try:
            level = int(os.environ[FFMPEG_LOG_LEVEL])
        except ValueError:
            level = _AV_LOG_QUIET
        av.logging.set_level(None if level <= _AV_LOG_QUIET else level)


def show_decoder_logs():
    """Let OpenCV and FFmpeg (in OpenCV and PyAV) log what they would (`--verbose`), in this process (call
    it before the first decode) and in worker processes started later (through the environment)."""
    os.environ[FFMPEG_LOG_LEVEL] = "24"  # warnings and errors (OpenCV prints them on stdout: [OPENCV:FFMPEG:24])
    os.environ[OPENCV_LOG_LEVEL] = "INFO"
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO)
    _configured.clear()



def deadline_check(deadline, path, timeout):
    if time.monotonic() > deadline:
        raise DecodeTimeoutError(f"decoding {path} took longer than {timeout:g} s; the file may be "
                                 "damaged (raise `decode_timeout` if it is just long)")


class OpenCVReader:
    name = "opencv"

    def __init__(self, path, timeout):
        quiet_decoder_logs("opencv")
        ms = int(max(timeout, 0.001) * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        self.cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, params)
        if not self.cap.isOpened():
            self.cap.release()
            raise VideoDecodeError(f"OpenCV cannot open {path}")
        self.claimed = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.position = 0

    def frames(self, wanted, deadline, path, timeout, seek_threshold):
        """Yield (index, RGB frame) for the sorted unique `wanted`; raise VideoEnded at the end."""
        for index in wanted:
            if index - self.position > seek_threshold:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                reached = int(self.cap.get(cv2.CAP_PROP_POS_FRAMES))
                if reached != index:  # seeking past the real end stops at the last decodable frame
                    raise VideoEnded(reached)
                self.position = index
            while self.position < index:
                deadline_check(deadline, path, timeout)
                if not self.cap.grab():
                    raise VideoEnded(self.position)
                self.position += 1
            deadline_check(deadline, path, timeout)
            ok, frame = self.cap.read()
            if not ok or frame is None:
                raise VideoEnded(self.position)
            self.position += 1
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def count(self, deadline, path, timeout):
        n = self.position
        while True:
            deadline_check(deadline, path, timeout)
            if not self.cap.grab():
                return n
            n += 1

    def close(self):
        self.cap.release()


class PyAVReader:
    name = "pyav"

    def __init__(self, path, timeout):
        import av

        quiet_decoder_logs("pyav")
        try:
            self.container = av.open(path, timeout=timeout)
            self.stream = self.container.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as e:
            raise VideoDecodeError(f"PyAV cannot open {path}: {e}") from None
        self.stream.thread_type = "AUTO"
        self.claimed = int(self.stream.frames or 0)
        self.iterator = self.container.decode(self.stream)
        self.position = 0

    def _next(self, path):
        import av

        try:
            return next(self.iterator)
        except StopIteration:
            return None
        except av.FFmpegError as e:
            logger.warning("PyAV stopped decoding %s at frame %d: %s", path, self.position, e)
            return None

    def frames(self, wanted, deadline, path, timeout, seek_threshold):
        for index in wanted:
            while True:
                deadline_check(deadline, path, timeout)
                frame = self._next(path)
                if frame is None:
                    raise VideoEnded(self.position)
                self.position += 1
                if self.position - 1 == index:
                    yield index, frame.to_ndarray(format="rgb24")
                    break

    def count(self, deadline, path, timeout):
        n = self.position
        while True:
            deadline_check(deadline, path, timeout)
            if self._next(path) is None:
                return n
            n += 1

    def close(self):
        self.container.close()


def open_reader(path, backend, timeout, deadline=None):
    """A reader of `path`, opened within the deadline: the open runs in a daemon thread; if it has not
    returned when the time is up, it is abandoned (its reader closed if it ever opens) and this raises
    `DecodeTimeoutError`."""
    total = timeout
    if deadline is not None:
        deadline_check(deadline, path, total)
        timeout = max(deadline - time.monotonic(), 1.0)  # open/read timeouts: what is left, >= 1 s
    cls = PyAVReader if backend == "pyav" else OpenCVReader
    box = {}
    lock = threading.Lock()

    def target():
        try:
            reader = cls(path, timeout)
        except BaseException as e:  # noqa: BLE001 (handed to the waiting thread)
            box["error"] = e
            return
        with lock:
            if box.get("abandoned"):
                reader.close()
            else:
                box["reader"] = reader

    thread = threading.Thread(target=target, name=f"open {os.path.basename(path)}", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if "reader" not in box and "error" not in box:
            box["abandoned"] = True
            raise DecodeTimeoutError(f"opening {path} took longer than {timeout:g} s; the file may be on a "
                                     "hung file system or not a video (raise `decode_timeout` if it is just slow)")
    if "error" in box:
        raise box["error"]
    return box["reader"]
