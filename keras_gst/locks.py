"""One writer per output: `output_lock(folder)` for a folder written into (`train`, `extract-frames`),
`replace_lock(path)` for an output replaced whole (`export`'s .tflite file or SavedModel folder, `shard`'s
folder). A second writer is refused at once with `FolderLockedError` naming the holder (pid, command, start
time). An `fcntl.flock` lock, so the lock of a process that died (even by SIGKILL) is free again.
Standard library only.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import sys
from collections.abc import Iterator

LOCK_NAME = ".keras-gst.lock"


class FolderLockedError(RuntimeError):
    """Another process writes into the folder (`holder`: its pid, command and start time, `{}` if unknown).

    Example:

    ```python
    import fcntl
    import os

    from keras_gst.locks import FolderLockedError, output_lock

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

    from keras_gst.atomic import write_text
    from keras_gst.locks import output_lock

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
    from keras_gst.atomic import write_text
    from keras_gst.locks import replace_lock

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
