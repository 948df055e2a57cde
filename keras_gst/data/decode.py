"""Decoding: video files with OpenCV (PyAV fallback), frame-folder JPEGs with OpenCV.

Only the frames a clip needs are decoded: frames in between are skipped with `grab()` (no colour
conversion), long gaps are crossed with a seek. Container frame counts are not trusted: when a video
ends before a requested index, the true count is remembered (per process), a warning names the file,
and the clip is sampled again from the frames that really decode. A video OpenCV cannot read at all
(e.g. AV1 without a decoder) is read with PyAV. Every decode has a wall-clock deadline, opening the file
included (the open runs in a helper thread that is abandoned when the deadline passes); FIFOs, devices,
sockets and directories are refused before any open (reading a FIFO blocks until a writer appears).

A frame-folder JPEG is checked before it is decoded (present, non-empty, SOI ... EOI, and a walk over
its markers and entropy-coded data, `jpeg_damage`): libjpeg decodes most damaged files with only a
"Corrupt JPEG data" warning on stderr, so the check is what turns a damaged frame into an error that
names the file.
"""

import itertools
import logging
import os
import stat
import threading
import time

import cv2
import numpy as np

from keras_gst.data.annotations import count_frames_in_folder

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0  # seconds per video
SEEK_THRESHOLD = 128  # frames; shorter gaps are crossed with grab()

# Per-process memory of what decoding taught us: true frame counts and videos OpenCV cannot read.
_true_counts = {}
_claimed_counts = {}
_needs_pyav = set()
_warned = set()


class VideoDecodeError(RuntimeError):
    """A video (or frame) that cannot be decoded; the message names the file."""


class DecodeTimeoutError(VideoDecodeError):
    pass


class ShortVideoError(VideoDecodeError):
    """The video ends before a requested frame; `decoded` frames really decode."""

    def __init__(self, path, decoded, requested):
        super().__init__(f"{path} ends after {decoded} decodable frames; frame {requested} was requested")
        self.path, self.decoded, self.requested = path, decoded, requested


class _ShortVideo(Exception):
    def __init__(self, decoded):
        super().__init__(decoded)
        self.decoded = decoded


def warn_once(key, message, *args):
    """Log a warning once per process for `key` (e.g. a file), not on every epoch."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def check_file(path, what="video"):
    """Missing, empty or special files (FIFO, device, socket, directory) fail early with the file's name,
    before anything opens them (`os.stat` does not block on a FIFO; `open` does)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    if stat.S_ISDIR(mode):
        raise VideoDecodeError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise VideoDecodeError(f"{what} {path} is not a regular file (a FIFO, device or socket); refused: reading "
                               "it could block forever")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{what} file is empty (0 bytes): {path}; re-download or remove it")


def _deadline_check(deadline, path, timeout):
    if time.monotonic() > deadline:
        raise DecodeTimeoutError(f"decoding {path} took longer than {timeout:g} s; the file may be "
                                 "damaged (raise `decode_timeout` if it is just long)")


class _OpenCVReader:
    name = "opencv"

    def __init__(self, path, timeout):
        ms = int(max(timeout, 0.001) * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        self.cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, params)
        if not self.cap.isOpened():
            self.cap.release()
            raise VideoDecodeError(f"OpenCV cannot open {path}")
        self.claimed = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.position = 0

    def frames(self, wanted, deadline, path, timeout, seek_threshold):
        """Yield (index, RGB frame) for the sorted unique `wanted`; raise _ShortVideo at the end."""
        for index in wanted:
            if index - self.position > seek_threshold:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                reached = int(self.cap.get(cv2.CAP_PROP_POS_FRAMES))
                if reached != index:  # seeking past the real end stops at the last decodable frame
                    raise _ShortVideo(reached)
                self.position = index
            while self.position < index:
                _deadline_check(deadline, path, timeout)
                if not self.cap.grab():
                    raise _ShortVideo(self.position)
                self.position += 1
            _deadline_check(deadline, path, timeout)
            ok, frame = self.cap.read()
            if not ok or frame is None:
                raise _ShortVideo(self.position)
            self.position += 1
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def count(self, deadline, path, timeout):
        n = self.position
        while True:
            _deadline_check(deadline, path, timeout)
            if not self.cap.grab():
                return n
            n += 1

    def close(self):
        self.cap.release()


class _PyAVReader:
    name = "pyav"

    def __init__(self, path, timeout):
        import av

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
                _deadline_check(deadline, path, timeout)
                frame = self._next(path)
                if frame is None:
                    raise _ShortVideo(self.position)
                self.position += 1
                if self.position - 1 == index:
                    yield index, frame.to_ndarray(format="rgb24")
                    break

    def count(self, deadline, path, timeout):
        n = self.position
        while True:
            _deadline_check(deadline, path, timeout)
            if self._next(path) is None:
                return n
            n += 1

    def close(self):
        self.container.close()


def _open(path, backend, timeout, deadline=None):
    """A reader of `path`, opened within the deadline: the open runs in a daemon thread; if it has not
    returned when the time is up, it is abandoned (its reader closed if it ever opens) and this raises
    `DecodeTimeoutError`."""
    total = timeout
    if deadline is not None:
        _deadline_check(deadline, path, total)
        timeout = max(deadline - time.monotonic(), 1.0)  # open/read timeouts: what is left, >= 1 s
    cls = _PyAVReader if backend == "pyav" else _OpenCVReader
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


def _decode(path, indices, backend, deadline, timeout, seek_threshold):
    wanted = sorted(set(int(i) for i in indices))
    reader = _open(path, backend, timeout, deadline)
    try:
        got = dict(reader.frames(wanted, deadline, path, timeout, seek_threshold))
    finally:
        reader.close()
    return np.stack([got[int(i)] for i in indices])


def read_video_frames(path, indices, *, timeout=DEFAULT_TIMEOUT, seek_threshold=SEEK_THRESHOLD,
                      backend="auto"):
    """Decode the frames at 0-based `indices` (any order, repeats allowed): (len, H, W, 3) uint8 RGB.

    Raises ShortVideoError if the video ends before the largest index (with the number of frames that
    decode), VideoDecodeError if it cannot be decoded, FileNotFoundError if it does not exist.
    """
    path = os.fspath(path)
    check_file(path)
    deadline = time.monotonic() + timeout
    backends = ["pyav"] if backend == "pyav" or path in _needs_pyav else ["opencv", "pyav"]
    if backend == "opencv":
        backends = ["opencv"]
    errors = []
    for name in backends:
        try:
            return _decode(path, indices, name, deadline, timeout, seek_threshold)
        except _ShortVideo as short:
            if short.decoded > 0 or name == backends[-1]:
                raise ShortVideoError(path, short.decoded, int(max(indices))) from None
            errors.append(f"{name} decoded 0 frames")
            _needs_pyav.add(path)  # e.g. AV1 without an OpenCV decoder: go to PyAV directly next time
        except DecodeTimeoutError:
            raise
        except VideoDecodeError as e:
            errors.append(str(e))
    raise VideoDecodeError(f"cannot decode video {path} ({'; '.join(errors)}); "
                           "check the file with ffprobe, re-encode it (H.264) or remove it")


def count_video_frames(path, *, timeout=DEFAULT_TIMEOUT):
    """The number of frames that really decode (not the container's claim); remembered per process."""
    path = os.fspath(path)
    if path in _true_counts:
        return _true_counts[path]
    check_file(path)
    deadline = time.monotonic() + timeout
    n = 0
    for name in ("opencv", "pyav"):
        if name == "opencv" and path in _needs_pyav:
            continue
        try:
            reader = _open(path, name, timeout, deadline)
        except DecodeTimeoutError:
            raise
        except VideoDecodeError:
            continue
        try:
            n = reader.count(deadline, path, timeout)
        finally:
            reader.close()
        if n > 0:
            break
        _needs_pyav.add(path)
    if n == 0:
        raise VideoDecodeError(f"cannot decode any frame of video {path}; check the file with "
                               "ffprobe, re-encode it (H.264) or remove it")
    _true_counts[path] = n
    return n


def iter_video_frames(path, *, timeout=DEFAULT_TIMEOUT):
    """Yield every decodable frame (H, W, 3) uint8 RGB: OpenCV, or PyAV if OpenCV decodes none."""
    path = os.fspath(path)
    check_file(path)
    deadline = time.monotonic() + timeout
    errors = []
    for name in ("opencv", "pyav"):
        try:
            reader = _open(path, name, timeout, deadline)
        except DecodeTimeoutError:
            raise
        except VideoDecodeError as e:
            errors.append(str(e))
            continue
        n = 0
        try:
            for _, frame in reader.frames(itertools.count(), deadline, path, timeout, SEEK_THRESHOLD):
                n += 1
                yield frame
        except _ShortVideo:
            pass
        finally:
            reader.close()
        if n > 0:
            return
        errors.append(f"{name} decoded 0 frames")
    raise VideoDecodeError(f"cannot decode video {path} ({'; '.join(errors)}); check the file with "
                           "ffprobe, re-encode it (H.264) or remove it")


def claimed_frame_count(path, *, timeout=DEFAULT_TIMEOUT):
    """The container's frame count (a claim: can be too high, or 0), OpenCV then PyAV; remembered per
    process, so a clip costs one open of the video."""
    path = os.fspath(path)
    if path not in _claimed_counts:
        check_file(path)
        claimed = 0
        for name in ("opencv", "pyav"):
            try:
                reader = _open(path, name, timeout)
            except DecodeTimeoutError:
                raise
            except VideoDecodeError:
                continue
            claimed = reader.claimed
            reader.close()
            if claimed > 0:
                break
        _claimed_counts[path] = claimed
    return _claimed_counts[path]


def load_video_clip(path, sample, *, num_frames=None, offset=0, timeout=DEFAULT_TIMEOUT,
                    seek_threshold=SEEK_THRESHOLD):
    """Decode the clip `sample(n)` picks from a video's `n` frames (0-based, relative to `offset`).

    `n` is `num_frames` if given, else the true count if known, else the container's claim. If the
    video turns out shorter, the true count is remembered, a warning names the file, and `sample` is
    called again with the frames that decode. Returns (frames (len, H, W, 3) uint8 RGB, n).
    """
    path = os.fspath(path)
    check_file(path)
    if path in _true_counts:
        available = _true_counts[path] - offset
        n = available if num_frames is None else min(num_frames, available)
    elif num_frames is not None:
        n = num_frames
    else:
        n = claimed_frame_count(path, timeout=timeout) - offset
        if n <= 0:  # no usable claim (e.g. some webm): count by decoding once
            n = count_video_frames(path, timeout=timeout) - offset
    if n <= 0:
        raise VideoDecodeError(f"{path} has no frames at offset {offset}")
    indices = sample(n)
    try:
        return read_video_frames(path, indices + offset, timeout=timeout,
                                 seek_threshold=seek_threshold), n
    except ShortVideoError:
        if path in _true_counts:
            raise
    true_count = count_video_frames(path, timeout=timeout)
    warn_once(path, "%s: expected %d frames from frame %d, only %d decode; sampling from those",
               path, n, offset, true_count)
    n = true_count - offset
    if n <= 0:
        raise VideoDecodeError(f"{path} has only {true_count} decodable frames, the segment starts at "
                               f"frame {offset}")
    return read_video_frames(path, sample(n) + offset, timeout=timeout,
                             seek_threshold=seek_threshold), n


def resize_short_side(frame, short_side):
    """One (H, W, 3) frame with its short side resized to `short_side` (INTER_AREA down, LINEAR up)."""
    h, w = frame.shape[:2]
    if not short_side or min(h, w) == short_side:
        return frame
    scale = short_side / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def shrink_frames(frames, short_side):
    """(N, H, W, 3) frames with a short side above `short_side` -> resized to it; smaller ones kept."""
    if not short_side or min(frames.shape[1:3]) <= short_side:
        return frames
    return np.stack([resize_short_side(f, short_side) for f in frames])


def frame_paths(folder, indices, template="{:05d}.jpg", start_index=1):
    """File names of the frames at 0-based `indices` of a frame folder."""
    return [os.path.join(folder, template.format(int(i) + start_index)) for i in indices]


def _frame_error(path, reason):
    folder = os.path.dirname(path) or "."
    return VideoDecodeError(f"{reason}: {path}; re-extract the frames of {folder} (`keras-gst "
                            "extract-frames`) or remove the clip from the list")


# Markers (the byte after 0xFF) by what may stand where (ITU T.81 B.1.1.3, table B.1).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers
_RST = range(0xD0, 0xD8)
_AFTER_SCAN = frozenset({0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xFE, 0xD9, *range(0xE0, 0xF0)})
#              DHT   DAC   SOS   DQT   DNL   DRI   COM   EOI   APPn


def jpeg_damage(data):
    """Why `data` (bytes from SOI to EOI) is not a well-formed JPEG, or None.

    Walks the marker segments (each must fit in the file, a scan needs a frame header first) and the
    entropy-coded data of each scan: there a 0xFF byte must be a stuffed 0xFF00, a fill byte or the
    next restart marker (in order, and only with a restart interval), and a scan must end at a marker
    that may follow a scan (tables, the next scan, EOI at the end of the file). Garbage or a cut in
    the image data almost always breaks this; damage that leaves no 0xFF byte behind can only be seen
    by decoding the Huffman codes (libjpeg then warns on stderr and decodes grey or smeared blocks).
    """
    end = len(data)
    pos, has_frame, scans, interval = 2, False, 0, 0
    while True:
        if pos + 1 >= end or data[pos] != 0xFF:
            return f"no marker at byte {pos}"
        while pos + 2 < end and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker, at = data[pos + 1], pos
        pos += 2
        if marker == 0xD9:
            if pos != end:
                return f"end marker at byte {at}, {end - pos} bytes before the end of the file"
            return None if scans else "no image data (no scan) before the end marker"
        if marker == 0x01:  # TEM: no length
            continue
        if marker in _RST or marker == 0xD8 or pos + 2 > end:
            return f"unexpected marker 0x{marker:02X} at byte {at}"
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > end:
            return f"marker 0x{marker:02X} at byte {at} has a segment of {length} bytes past the end of the file"
        if marker in _SOF:
            has_frame = True
        elif marker == 0xDD and length >= 4:
            interval = int.from_bytes(data[pos + 2:pos + 4], "big")
        pos += length
        if marker != 0xDA:
            continue
        if not has_frame:
            return f"scan at byte {at} before the frame header"
        scans += 1
        restarts = 0
        while True:  # entropy-coded data up to the next marker
            pos = data.find(b"\xff", pos, end - 1)
            if pos < 0:
                return f"the image data of scan {scans} has no end"
            byte = data[pos + 1]
            if byte == 0x00 or byte == 0xFF:  # stuffed 0xFF / fill
                pos += 1 if byte == 0xFF else 2
            elif byte in _RST:
                if not interval or byte != 0xD0 + restarts % 8:
                    return f"restart marker 0x{byte:02X} out of place at byte {pos} (image data damaged)"
                restarts += 1
                pos += 2
            elif byte in _AFTER_SCAN:
                break
            else:
                return f"marker 0x{byte:02X} inside the image data at byte {pos} (image data damaged)"


def read_frame_bytes(paths):
    """Read JPEG files, checking that each exists, is not empty and is a complete, well-formed JPEG
    (SOI ... EOI, `jpeg_damage`); a bad file is a `VideoDecodeError` naming it and its folder."""
    out = []
    for path in paths:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block open() forever
                raise _frame_error(path, "frame is not a regular file (a directory, FIFO, device or socket)")
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"frame not found: {path}") from None
        if len(data) == 0:
            raise _frame_error(path, "frame file is empty (0 bytes)")
        if data[:2] != b"\xff\xd8":
            raise _frame_error(path, "frame is not a JPEG")
        data = data.rstrip(b"\x00")
        if data[-2:] != b"\xff\xd9":
            raise _frame_error(path, "frame JPEG is truncated (no end marker)")
        damage = jpeg_damage(data)
        if damage:
            raise _frame_error(path, f"frame JPEG is corrupt ({damage})")
        out.append(data)
    return out


_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.11: libjpeg writes RGB directly


def read_frames(paths):
    """Decode frame-folder JPEGs (checked by `read_frame_bytes`) with OpenCV: (len, H, W, 3) uint8 RGB.

    Grey JPEGs give 3 equal channels, EXIF orientation is ignored; the pixels are libjpeg's accurate
    integer IDCT with fancy upsampling, as PIL and ``tf.io.decode_jpeg(dct_method="INTEGER_ACCURATE")``.
    Repeated paths are decoded once. Frames of different sizes are a `VideoDecodeError`.
    """
    where = {}  # path -> its positions in the clip
    for i, path in enumerate(paths):
        where.setdefault(path, []).append(i)
    return decode_jpegs(read_frame_bytes(list(where)), list(where), [where[p] for p in where], len(paths))


def decode_jpegs(datas, names, positions=None, length=None, error=None):
    """Decode JPEG bytes with OpenCV into one (length, H, W, 3) uint8 RGB array: `datas[k]` fills the
    clip positions `positions[k]` (default: one position each, in order); `names[k]` names it in errors,
    made by `error(name, reason)` (default: a frame file's `VideoDecodeError`). The pixels are those of
    `read_frames` (which reads, checks and decodes frame files with it)."""
    error = error or _frame_error
    positions = [[k] for k in range(len(datas))] if positions is None else positions
    length = len(datas) if length is None else length
    out = None
    for path, data, where in zip(names, datas, positions):
        buffer = np.frombuffer(data, np.uint8)
        if _IMREAD_RGB is not None:
            frame = cv2.imdecode(buffer, _IMREAD_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
        else:
            frame = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            frame = None if frame is None else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if frame is None:
            raise error(path, "frame JPEG cannot be decoded")
        if out is None:  # one output array, filled frame by frame (fresh memory is slow to touch)
            out = np.empty((length,) + frame.shape, np.uint8)
        elif frame.shape != out.shape[1:]:
            (h, w), (h0, w0) = frame.shape[:2], out.shape[1:3]
            raise error(path, f"frame is {w}x{h}, {names[0]} is {w0}x{h0}")
        out[where] = frame
    return out


FRAME_TEMPLATES = ("{:05d}.jpg", "img_{:05d}.jpg", "{:04d}.jpg", "{:06d}.jpg", "image_{:05d}.jpg",
                   "frame_{:010d}.jpg", "img_{:04d}.jpg")
_folder_counts = {}
_folder_templates = {}


def detect_template(folder, start_index=1):
    """The first of `FRAME_TEMPLATES` whose first frame exists in `folder` (remembered per process)."""
    key = (folder, start_index)
    if key not in _folder_templates:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"frame folder not found: {folder}")
        names = set(os.listdir(folder))
        found = [t for t in FRAME_TEMPLATES if t.format(start_index) in names]
        if not found:
            raise VideoDecodeError(f"no frame named like {FRAME_TEMPLATES} from {start_index} in {folder}; "
                                   "pass the folder's file-name template")
        _folder_templates[key] = found[0]
    return _folder_templates[key]


def folder_frame_count(folder, template="{:05d}.jpg", start_index=1):
    """Consecutive frames present in a frame folder (remembered per process)."""
    key = (folder, template, start_index)
    if key not in _folder_counts:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"frame folder not found: {folder}")
        _folder_counts[key] = count_frames_in_folder(folder, template, start_index)
    return _folder_counts[key]
