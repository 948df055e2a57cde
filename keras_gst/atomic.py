"""Safe writers: atomic files and folders, one writer per output folder, signals as exceptions.

Atomic writes: a file (or a SavedModel folder) a later step or user reads is written under a temporary
name in the same folder, fsynced, renamed over its final name (`os.replace`, atomic on POSIX), and the
folder is fsynced. A process killed at any moment, or a power loss, leaves either the previous complete
version or the new complete one, never a torn or empty one (plus, at worst, a `.tmp-*` leftover that the
next write of the same name removes).

`output_lock(folder)`: one writer per output folder (`train`, `extract-frames`); `replace_lock(path)`: one
writer per output replaced whole (`export`'s .tflite file or SavedModel folder, `shard`'s folder). A second
writer is refused at once with `FolderLockedError` naming the holder. An `fcntl.flock` lock, so the lock of
a process that died (even by SIGKILL) is free again.

`signals_as_interrupts()`: SIGTERM raises `Interrupted` like Ctrl-C raises `KeyboardInterrupt`, so a
`with` / `finally` cleanup runs and the CLI prints one line and exits 128 + the signal number.
"""

import contextlib
import datetime
import errno
import fcntl
import glob
import json
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Iterator

TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"  # a folder replaced by `atomic_dir`, removed once the new one is in place
LOCK_NAME = ".keras-gst.lock"


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


class FolderLockedError(RuntimeError):
    """Another process writes into the folder (`holder`: its pid, command and start time, `{}` if unknown).

    Example:

    ```python
    import fcntl
    import os

    from keras_gst.atomic import FolderLockedError, output_lock

    os.makedirs("runs/a")
    with open("runs/a/.keras-gst.lock", "w") as other:  # the lock another writer of runs/a holds
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            with output_lock("runs/a"):
                pass
        except FolderLockedError as e:
            print(e.folder)  # runs/a
    ```
    """

    def __init__(self, folder: str | os.PathLike, holder: dict):
        self.folder, self.holder = folder, holder
        who = (f"pid {holder.get('pid', '?')} (`{holder.get('command', '?')}`, started {holder.get('started', '?')})"
               if holder else "another process")
        super().__init__(f"{folder} is in use by {who}: wait for it to finish, stop it, or write to another folder")


_HELD = {}  # real path of a held lock file -> [fd, nesting count] (the same process may lock it again)


def _read_holder(fd):
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 65536).decode("utf-8"))
    return {}


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, command: str | None = None) -> Iterator[str | os.PathLike]:
    """Hold the write lock of `folder` (created if needed) for the `with` block, which gets `folder`; raise
    `FolderLockedError` at once, naming the holder, if another process holds it. The lock file
    `folder/.keras-gst.lock` holds the holder's pid, command (default: this process's command line) and
    start time, and is removed on release; a folder this call created is removed on release if it is
    still empty. The lock of a process that has ended is free (flock), whatever its file says.

    Example:

    ```python
    import os

    from keras_gst.atomic import output_lock, write_text

    with output_lock("runs/a", command="my_training.py") as folder:
        write_text(os.path.join(folder, "metrics.txt"), "top-1 0.75")  # no other writer of runs/a meanwhile
    print(os.listdir("runs/a"))  # ['metrics.txt']
    ```
    """
    with _lock(folder, os.path.join(folder, LOCK_NAME), folder, command):
        yield folder


@contextlib.contextmanager
def replace_lock(path: str | os.PathLike, command: str | None = None) -> Iterator[str | os.PathLike]:
    """`output_lock` for an output that is replaced whole (a .tflite file, a SavedModel folder, a shard
    folder): the lock file `.<name>.keras-gst.lock` sits beside `path` (a lock inside a folder would be
    replaced with it), so one writer at a time replaces `path`; the error names `path`.

    Example:

    ```python
    from keras_gst.atomic import replace_lock, write_text

    with replace_lock("model.tflite", command="my_export.py"):
        write_text("model.tflite", "flatbuffer bytes")  # no other writer replaces model.tflite meanwhile
    print(open("model.tflite").read())  # flatbuffer bytes
    ```
    """
    folder, base = os.path.split(os.path.abspath(path))
    with _lock(folder, os.path.join(folder, f".{base}{LOCK_NAME}"), path, command):
        yield path


@contextlib.contextmanager
def _lock(folder, lock_path, name, command):
    """Hold the flock of `lock_path` in `folder` (created if needed); `FolderLockedError(name)` if taken."""
    key = os.path.realpath(lock_path)
    if key in _HELD:  # nested in the same process (e.g. `train` then its export step)
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    created = not os.path.exists(folder)
    os.makedirs(folder, exist_ok=True)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_holder(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise FolderLockedError(name, holder) from None
            raise
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.write(fd, json.dumps({"pid": os.getpid(), "command": command or " ".join(sys.argv), "started": started})
             .encode("utf-8"))
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.remove(lock_path)  # still locked: a waiting process re-checks the file it locked
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only if empty


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
