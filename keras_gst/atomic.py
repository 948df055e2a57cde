"""Safe writers: atomic files and folders, signals as exceptions.

Atomic writes: a file (or a SavedModel folder) a later step or user reads is written under a temporary
name in the same folder, fsynced, renamed over its final name (`os.replace`, atomic on POSIX), and the
folder is fsynced. A process killed at any moment, or a power loss, leaves either the previous complete
version or the new complete one, never a torn or empty one (plus, at worst, a `.tmp-*` leftover that the
next write of the same name removes).

One writer per output: `keras_gst.locks`.

`signals_as_interrupts()`: SIGTERM raises `Interrupted` like Ctrl-C raises `KeyboardInterrupt`, so a
`with` / `finally` cleanup runs and the CLI prints one line and exits 128 + the signal number.
"""

import contextlib
import errno
import glob
import os
import shutil
import signal
import uuid
from collections.abc import Iterator

TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"  # a folder replaced by `atomic_dir`, removed once the new one is in place


def _temp_name(path, prefix=TMP_PREFIX):
    folder, base = os.path.split(os.path.abspath(path))
    # keep the suffix (".keras", ".weights.h5", ".txt"): savers choose the format by it
    return os.path.join(folder, f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}-{base}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _leftovers(path, prefix):
    """Leftovers `prefix<pid>-<id>-<base>` of writes of `path` by processes that have ended."""
    folder, base = os.path.split(os.path.abspath(path))
    for old in glob.glob(os.path.join(glob.escape(folder), f"{prefix}*-{glob.escape(base)}")):
        pid = os.path.basename(old)[len(prefix):].split("-", 1)[0]
        if not (pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid)))):
            yield old


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Remove leftovers of killed writes of `path`: temporaries whose writing process has ended (a live
    process may be writing its own right now). A folder that a killed `atomic_dir` had moved aside and not
    yet replaced is put back first.

    Example:

    ```python
    import os

    from keras_gst.atomic import remove_stale_temporaries

    # a temporary of model.keras left by a write whose process (pid 999999999) has ended
    open(".tmp-999999999-0123abcd-model.keras", "wb").close()
    remove_stale_temporaries("model.keras")
    print(os.path.exists(".tmp-999999999-0123abcd-model.keras"))  # False
    ```
    """
    for old in _leftovers(path, OLD_PREFIX):
        if not os.path.exists(path):
            os.replace(old, path)
        else:
            _remove(old)
    for old in _leftovers(path, TMP_PREFIX):
        _remove(old)


def fsync_path(path: str | os.PathLike) -> None:
    """fsync a file or folder (its data, or its entries) to disk.

    Example:

    ```python
    from keras_gst.atomic import fsync_path

    with open("log.txt", "w") as f:
        f.write("epoch 1")
    fsync_path("log.txt")  # the file's data is on disk
    fsync_path(".")  # and so is its entry in the folder
    ```
    """
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root):
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path next to `path` with the same suffix; on success fsync it, rename it to
    `path` and fsync the folder. On an exception the temporary file is removed and `path` is left as it
    was.

    Example:

    ```python
    import numpy as np

    from keras_gst.atomic import atomic_path

    with atomic_path("scores.npy") as tmp:  # tmp ends in ".npy" too
        np.save(tmp, np.arange(3))
    print(np.load("scores.npy"))  # [0 1 2]
    ```
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temp_name(path)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(folder)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary folder next to `path` (e.g. for `tf.saved_model.save`); on success fsync every
    file in it and put it in place of `path`. An existing `path` is moved aside only once the new folder is
    complete, and removed after the new one is in place (a kill in between leaves both; the next write or
    `remove_stale_temporaries(path)` puts the previous one back). On an exception the temporary folder is
    removed and `path` is left as it was.

    Example:

    ```python
    import os

    from keras_gst.atomic import atomic_dir

    with atomic_dir("export") as tmp:
        with open(os.path.join(tmp, "saved_model.pb"), "wb") as f:
            f.write(b"...")
    print(os.listdir("export"))  # ['saved_model.pb']
    ```
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temp_name(path)
    os.makedirs(tmp)
    old = None
    try:
        yield tmp
        _fsync_tree(tmp)
        if os.path.exists(path):
            old = _temp_name(path, OLD_PREFIX)
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_path(folder)
    except BaseException:
        if old is not None and not os.path.exists(path):
            os.replace(old, path)
            old = None
        raise
    finally:
        if os.path.exists(tmp):
            _remove(tmp)
        if old is not None:
            _remove(old)


def require_space(folder: str | os.PathLike, nbytes: int) -> None:
    """Raise OSError(ENOSPC) naming `folder` unless it has `nbytes` free (checked before a large write:
    some writers, such as h5py, do not recover from a full disk in the middle of a file).

    Example:

    ```python
    import errno

    from keras_gst.atomic import require_space

    require_space(".", 1024)  # 1 kB is free here: returns
    try:
        require_space(".", 2**80)  # a yottabyte is not
    except OSError as e:
        print(e.errno == errno.ENOSPC, e.filename)  # True .
    ```
    """
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    if free < nbytes:
        raise OSError(errno.ENOSPC, f"{free / 2**20:.0f} MB free, {nbytes / 2**20:.0f} MB needed", folder)


def write_text(path: str | os.PathLike, text: str) -> str | os.PathLike:
    """Write `text` to `path` atomically (UTF-8); returns `path`.

    Example:

    ```python
    from keras_gst.atomic import write_text

    write_text("metrics.txt", "top-1 0.75")
    print(open("metrics.txt").read())  # top-1 0.75
    ```
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return path


def copy_file(source: str | os.PathLike, path: str | os.PathLike) -> str | os.PathLike:
    """Copy `source` to `path` atomically (a separate file: never a link that a later write of `source`
    could change); returns `path`.

    Example:

    ```python
    from keras_gst.atomic import copy_file, write_text

    write_text("best.txt", "epoch 3")
    copy_file("best.txt", "final.txt")
    write_text("best.txt", "epoch 7")
    print(open("final.txt").read())  # epoch 3
    ```
    """
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return path


class Interrupted(KeyboardInterrupt):
    """The process got SIGINT or SIGTERM; `exit_code` is 128 + the signal number (130, 143).

    Example:

    ```python
    import signal

    from keras_gst.atomic import Interrupted

    error = Interrupted(signum=signal.SIGTERM)
    print(error.exit_code, isinstance(error, KeyboardInterrupt))  # 143 True
    ```
    """

    def __init__(self, message: str = "interrupted", signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """In the `with` block (main thread), SIGTERM and SIGINT raise `Interrupted` (a `KeyboardInterrupt`)
    in the main thread; the previous handlers come back after it.

    Example:

    ```python
    import os
    import signal
    import time

    from keras_gst.atomic import Interrupted, signals_as_interrupts

    try:
        with signals_as_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` from a shell or a job scheduler does
            time.sleep(5)
    except Interrupted as e:
        print(e.exit_code)  # 143
    ```
    """
    def handler(signum, frame):
        raise Interrupted(signum=signum)

    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: signals stay as they were
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
