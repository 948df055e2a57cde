"""Atomic writes: a file a later run reads is written under a temporary name in the same folder, then
renamed over its final name (`os.replace`, atomic on POSIX and Windows). A process killed at any moment
leaves either the previous complete file or the new complete file, never a torn one (plus, at worst, a
`.tmp-*` file that the next write of the same name removes).

Durability against a power loss would also need an fsync; this guards against killed processes (SIGKILL,
OOM killer, pre-emption) and against readers that see a file while it is being written.
"""

import contextlib
import glob
import os
import uuid

TMP_PREFIX = ".tmp-"


def _temp_name(path):
    folder, base = os.path.split(os.path.abspath(path))
    # keep the suffix (".keras", ".weights.h5", ".txt"): savers choose the format by it
    return os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{base}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temporaries(path):
    """Remove leftovers of killed writes of `path`: temporary files whose writing process has ended (a
    live process may be writing its own right now)."""
    folder, base = os.path.split(os.path.abspath(path))
    for old in glob.glob(os.path.join(glob.escape(folder), f"{TMP_PREFIX}*-{glob.escape(base)}")):
        pid = os.path.basename(old)[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        with contextlib.suppress(OSError):
            os.remove(old)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path` with the same suffix; on success rename it to `path`.
    On an exception the temporary file is removed and `path` is left as it was."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return path
