"""keras_gst.atomic: durable atomic files and folders, the output folder lock, signals as interrupts. Stdlib
only (no TensorFlow): every case runs in well under a second."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from keras_gst import atomic, locks


def _fsynced(monkeypatch):
    """Record the paths fsynced (resolved from the file descriptors)."""
    seen = []
    real = os.fsync

    def fsync(fd):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_write_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """Before: no fsync at all, so a power loss could leave an empty file under the final name."""
    seen = _fsynced(monkeypatch)
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(len(seen)), real_replace(a, b)))
    atomic.write_text(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert len(seen) == 2 and os.path.basename(seen[0]).startswith(".tmp-") and seen[0].endswith("-a.txt")
    assert renamed == [1]  # the file's data is on disk before its name changes
    assert seen[1] == str(tmp_path)  # and the rename itself after


def test_atomic_dir_replaces_a_folder_only_once_the_new_one_is_complete(tmp_path):
    target = tmp_path / "saved"
    with atomic.atomic_dir(target) as tmp:
        os.makedirs(os.path.join(tmp, "variables"))
        open(os.path.join(tmp, "saved_model.pb"), "w").write("v1")
    assert (target / "saved_model.pb").read_text() == "v1" and (target / "variables").is_dir()
    with pytest.raises(RuntimeError, match="killed"):
        with atomic.atomic_dir(target) as tmp:
            open(os.path.join(tmp, "saved_model.pb"), "w").write("v2 half")
            raise RuntimeError("killed")
    assert (target / "saved_model.pb").read_text() == "v1"  # the previous folder, untouched
    with atomic.atomic_dir(target) as tmp:
        open(os.path.join(tmp, "saved_model.pb"), "w").write("v2")
    assert sorted(os.listdir(tmp_path)) == ["saved"] and (target / "saved_model.pb").read_text() == "v2"


def test_a_folder_moved_aside_by_a_killed_writer_is_put_back(tmp_path):
    """A kill between moving the old folder aside and renaming the new one in: the next write (or a
    cleanup) restores the previous complete folder, whose writer's pid is gone."""
    target = tmp_path / "saved"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    aside = tmp_path / f"{atomic.OLD_PREFIX}{pid}-abcd1234-saved"
    half = tmp_path / f"{atomic.TMP_PREFIX}{pid}-abcd1234-saved"
    aside.mkdir()
    (aside / "saved_model.pb").write_text("v1")
    half.mkdir()
    atomic.remove_stale_temporaries(target)
    assert sorted(os.listdir(tmp_path)) == ["saved"] and (target / "saved_model.pb").read_text() == "v1"


def test_copy_file_is_a_separate_file(tmp_path):
    (tmp_path / "best.keras").write_bytes(b"model")
    atomic.copy_file(tmp_path / "best.keras", tmp_path / "model.keras")
    assert os.stat(tmp_path / "model.keras").st_ino != os.stat(tmp_path / "best.keras").st_ino
    assert (tmp_path / "model.keras").read_bytes() == b"model"


HOLDER = textwrap.dedent('''
    import os, sys, time
    from keras_gst.locks import output_lock
    with output_lock(sys.argv[1], command="keras-gst train --out x"):
        print("locked", flush=True)
        if sys.argv[2] == "die":
            os._exit(0)  # no cleanup: the lock file stays, with this pid in it
        time.sleep(60)
''')


def _holder(folder, mode):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    proc = _holder(out, "hold")
    try:
        start = time.time()
        with pytest.raises(locks.FolderLockedError) as e:
            with locks.output_lock(out):
                pass
        assert time.time() - start < 1
        message = str(e.value)
        assert f"pid {proc.pid}" in message and "keras-gst train --out x" in message and str(out) in message
        assert e.value.holder["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()
    with locks.output_lock(out):  # the holder died: the lock is free
        assert os.path.exists(out / locks.LOCK_NAME)
    assert not os.path.exists(out / locks.LOCK_NAME)


def test_the_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    proc = _holder(out, "die")
    proc.wait()
    assert (out / locks.LOCK_NAME).exists() and str(proc.pid) in (out / locks.LOCK_NAME).read_text()
    with locks.output_lock(out, command="second"):
        assert '"second"' in (out / locks.LOCK_NAME).read_text()


def test_the_lock_nests_in_one_process_and_leaves_no_new_empty_folder(tmp_path):
    out = tmp_path / "new"
    with locks.output_lock(out):
        with locks.output_lock(out):  # e.g. train, then its export step into the same folder
            pass
        assert (out / locks.LOCK_NAME).exists()
    assert not out.exists()  # created by the lock, left empty: removed


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_become_interrupts_with_the_shell_exit_code(signum, code):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(atomic.Interrupted) as e:
        with atomic.signals_as_interrupts():
            os.kill(os.getpid(), signum)
            time.sleep(5)
    assert e.value.exit_code == code and isinstance(e.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before
