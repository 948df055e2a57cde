"""Videos -> frame folders (``OUT_DIR/<video stem>/00001.jpg``) plus a list file with true frame counts.

Resumable: a finished folder holds a `.done` file (written atomically, last) with its frame count and is
not extracted again unless it holds fewer frames than `.done` says (then it is repaired: redone); an
unfinished one is redone. Unreadable videos are reported by name and do not stop the others; a video
that decodes fewer frames than its container claims is reported as truncated (its frames are kept).

Safe to run several times at once on one OUT_DIR: each video is claimed with an exclusive lock on
``OUT_DIR/.locks/<stem>.lock`` (`fcntl.flock`, released by the OS when a process dies, so a kill leaves no
stale claim); a process that finds a video claimed waits for it and then uses the finished folder.
"""

import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import os
import shutil

import cv2
from tqdm import tqdm

from keras_gst.atomic import write_text
from keras_gst.locks import output_lock
from keras_gst.data import decode
from keras_gst.data.annotations import VIDEO_EXTENSIONS, FrameGapError, count_frames_in_folder, read_list_file

DONE_FILE = ".done"
LOCK_DIR = ".locks"


@dataclasses.dataclass
class ExtractResult:
    video: str
    folder: str
    num_frames: int = 0
    claimed: int = 0
    error: str = ""
    resumed: bool = False

    @property
    def truncated(self):
        return not self.error and self.claimed > self.num_frames


def find_videos(video_dir):
    """Video files under `video_dir` (recursive), sorted."""
    found = []
    for root, _, files in os.walk(video_dir):
        found += [os.path.join(root, f) for f in files if f.lower().endswith(VIDEO_EXTENSIONS)]
    return sorted(found)


def video_claimed_frames(video, *, timeout=600.0):
    """The container's frame count of `video` (0 for an empty file): what truncation is judged by."""
    return decode.claimed_frame_count(video, timeout=timeout) if os.path.getsize(video) else 0


def encode_video_frames(video, *, short_side=0, quality=95, timeout=600.0):
    """Yield every decodable frame of `video` as JPEG bytes: the project's checked decoders (OpenCV, PyAV
    fallback, deadline), short side resized to `short_side` (0: keep), JPEG at `quality`. The one
    per-video path shared by `extract-frames` (frame files) and `keras-gst shard` (TFRecord shards).
    Raises `decode.VideoDecodeError` / `OSError` for a video that cannot be decoded or a frame that
    cannot be encoded."""
    for i, frame in enumerate(decode.iter_video_frames(video, timeout=timeout)):
        frame = cv2.cvtColor(decode.resize_short_side(frame, short_side), cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise OSError(f"cannot encode frame {i} of {video} as JPEG")
        yield jpeg.tobytes()


@contextlib.contextmanager
def _claim(folder):
    """Hold the exclusive lock of `folder`'s video (blocking while another process holds it)."""
    try:
        import fcntl
    except ImportError:  # Windows: no concurrent runs on one OUT_DIR
        yield
        return
    locks = os.path.join(os.path.dirname(os.path.abspath(folder)), LOCK_DIR)
    os.makedirs(locks, exist_ok=True)
    with open(os.path.join(locks, os.path.basename(folder) + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _finished(video, folder, template, start_index):
    """The `ExtractResult` of a complete extraction of `folder`, else None (missing, unfinished, damaged
    `.done`, fewer frames on disk than `.done` records or a gap in them: a folder to redo)."""
    done = os.path.join(folder, DONE_FILE)
    if not os.path.isfile(done):
        return None
    try:
        with open(done) as f:
            num_frames, claimed = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        return None
    try:
        if count_frames_in_folder(folder, template, start_index) < num_frames:
            return None
    except (FrameGapError, OSError):  # a gap, or the folder went away
        return None
    return ExtractResult(video, folder, num_frames, claimed, resumed=True)


def extract_video(video, folder, *, template="{:05d}.jpg", start_index=1, short_side=0, quality=95,
                  timeout=600.0):
    """Extract one video into `folder`; never raises for a bad video (the error is in the result)."""
    with _claim(folder):
        return _extract_claimed(video, folder, template, start_index, short_side, quality, timeout)


def _extract_claimed(video, folder, template, start_index, short_side, quality, timeout):
    done = os.path.join(folder, DONE_FILE)
    finished = _finished(video, folder, template, start_index)
    if finished is not None:
        return finished
    if os.path.isdir(folder):
        shutil.rmtree(folder)  # unfinished or short earlier run
    os.makedirs(folder)
    result = ExtractResult(video, folder)
    try:
        result.claimed = video_claimed_frames(video, timeout=timeout)
        for i, jpeg in enumerate(encode_video_frames(video, short_side=short_side, quality=quality,
                                                     timeout=timeout)):
            path = os.path.join(folder, template.format(start_index + i))
            with open(path, "wb") as f:
                f.write(jpeg)
            result.num_frames = i + 1
    except (decode.VideoDecodeError, OSError) as e:
        result.error = f"{type(e).__name__}: {e}"
        shutil.rmtree(folder, ignore_errors=True)
        return result
    write_text(done, f"{result.num_frames} {result.claimed}\n")
    return result


def check_extract_arguments(video_dir, template, start_index, short_side, quality, timeout):
    """ValueError / FileNotFoundError naming the argument, before any work."""
    if not os.path.isdir(video_dir):
        kind = "is not a directory" if os.path.exists(video_dir) else "does not exist"
        raise FileNotFoundError(f"video_dir {video_dir} {kind}")
    try:
        names = {template.format(i) for i in (1, 2)}
    except (IndexError, KeyError, ValueError) as e:
        raise ValueError(f"template {template!r} is not a frame file name pattern like '{{:05d}}.jpg' ({e})") from None
    if len(names) < 2 or any(os.sep in n for n in names):
        raise ValueError(f"template {template!r} must number the frames with one {{}} field, e.g. '{{:05d}}.jpg'")
    for name, value, low in (("start_index", start_index, 0), ("short_side", short_side, 0), ("quality", quality, 0)):
        if int(value) < low:
            raise ValueError(f"{name} must be >= {low}. Received: {name}={value}")
    if quality > 100:
        raise ValueError(f"quality must be <= 100. Received: quality={quality}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0. Received: timeout={timeout}")


def extract_frames(video_dir: str | os.PathLike, out_dir: str | os.PathLike, *, template: str = "{:05d}.jpg",
                   start_index: int = 1, short_side: int = 0, quality: int = 95, workers: int | None = None,
                   labels: str | os.PathLike | None = None, list_file: str | os.PathLike | None = None,
                   timeout: float = 600.0, progress: bool = True) -> list[ExtractResult]:
    """Extract every video under `video_dir`; write `list_file` (default ``OUT_DIR/frames_list.txt``)
    with ``<stem> <num_frames> <label>`` lines (label from `labels`, an MMAction2 video list
    ``path label``; else -1). Returns the list of `ExtractResult`; the list file names only folders
    that hold their finished extraction when it is written (a folder deleted during the run is an
    `ExtractResult.error`). `progress` shows a bar on stderr when it is a terminal (none otherwise).
    `short_side` (0: keep) resizes the frames, `quality` is the JPEG quality, `workers` the processes
    (default: one per CPU core). Raises `FileNotFoundError` / `ValueError` naming a bad argument before
    any work.

    Example:

    ```python
    import os

    import cv2
    import numpy as np

    from keras_gst.data import extract_frames

    os.makedirs("videos")
    writer = cv2.VideoWriter("videos/clip.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for t in range(8):  # 8 frames of 64x48
        writer.write(np.full((48, 64, 3), 30 * t, np.uint8))
    writer.release()
    results = extract_frames("videos", "frames", workers=1, progress=False)
    print(results[0].num_frames, sorted(os.listdir("frames/clip"))[:3])  # 8 ['.done', '00001.jpg', '00002.jpg']
    print(open("frames/frames_list.txt").read().strip())  # clip 8 -1
    ```
    """
    check_extract_arguments(video_dir, template, start_index, short_side, quality, timeout)
    videos = find_videos(video_dir)
    stems = {}
    for v in videos:
        stem = os.path.splitext(os.path.basename(v))[0]
        if stem in stems:
            raise ValueError(f"two videos share the name {stem!r}: {stems[stem]} and {v}; frame folders "
                             "are named by stem, rename one")
        stems[stem] = v
    label_of = {}
    if labels is not None:
        for r in read_list_file(labels, root=video_dir, check_files=False).records:
            label_of[os.path.splitext(os.path.basename(r.path))[0]] = r.label
    # one writer per OUT: a second extract-frames into the same folder is refused at once, naming the first
    with output_lock(out_dir, "keras-gst extract-frames"):
        kwargs = dict(template=template, start_index=start_index, short_side=short_side, quality=quality,
                      timeout=timeout)
        jobs = [(v, os.path.join(out_dir, stem)) for stem, v in sorted(stems.items())]
        results = []
        bar = tqdm(total=len(jobs), unit="video", desc="extract-frames", disable=None if progress else True)
        workers = workers or os.cpu_count() or 1
        if workers > 1:  # spawn: forking a process that has started TensorFlow threads is unsafe
            pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            pool = _Inline()
        with pool:
            futures = [pool.submit(extract_video, v, folder, **kwargs) for v, folder in jobs]
            for future in futures:
                results.append(future.result())
                bar.update(1)
        bar.close()
        for r in results:
            if not r.error and not _still_finished(r, template, start_index):
                r.error = (f"frame folder {r.folder} is gone or incomplete after extraction (deleted during the run?); "
                           "run the command again to extract it")
        list_file = list_file or os.path.join(out_dir, "frames_list.txt")
        os.makedirs(os.path.dirname(os.path.abspath(list_file)), exist_ok=True)
        lines = []
        for r in results:
            if not r.error:
                stem = os.path.basename(r.folder)
                label = label_of.get(stem, -1)
                label = " ".join(map(str, label)) if isinstance(label, tuple) else label
                lines.append(f"{stem} {r.num_frames} {label}\n")
        write_text(list_file, "".join(lines))
        return results


def _still_finished(result, template, start_index):
    """Whether `result`'s folder still holds its finished extraction (checked under its claim, so a
    concurrent run that is redoing it is waited for): the list file names only folders that exist."""
    with _claim(result.folder):
        return _finished(result.video, result.folder, template, start_index) is not None


class _Inline:
    """A pool that runs jobs in this process (workers=1)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future
