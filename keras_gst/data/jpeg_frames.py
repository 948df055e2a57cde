"""Frame folders: JPEG files checked in Python (`read_frame_bytes`, `jpeg_damage`) and decoded with OpenCV
(`read_frames`, `decode_jpegs`), file-name templates (`detect_template`) and frame counts
(`folder_frame_count`). `keras_gst.data.decode` re-exports these names.

A frame-folder JPEG is checked before it is decoded (present, non-empty, SOI ... EOI, and a walk over
its markers and entropy-coded data, `jpeg_damage`): libjpeg decodes most damaged files with only a
"Corrupt JPEG data" warning on stderr, so the check is what turns a damaged frame into an error that
names the file.
"""

import os
import stat

import cv2
import numpy as np

from keras_gst.data.annotations import FrameGapError, count_frames_in_folder
from keras_gst.data.decode_errors import VideoDecodeError



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
    """Frames present in a frame folder (remembered per process); a gap in the numbering is a
    `VideoDecodeError` naming the folder and the missing frame (`annotations.count_frames_in_folder`)."""
    key = (folder, template, start_index)
    if key not in _folder_counts:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"frame folder not found: {folder}")
        try:
            _folder_counts[key] = count_frames_in_folder(folder, template, start_index)
        except FrameGapError as e:
            raise VideoDecodeError(str(e)) from None
    return _folder_counts[key]
