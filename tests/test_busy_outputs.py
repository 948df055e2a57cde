"""One writer per output for `export` and `shard` (as for `train` and `extract-frames`): while another
process writes an OUT, a second command into it exits 2 at once with one line naming the holder (its pid and
command), and writes nothing; once the holder has ended (even killed), the OUT is free again.

Before: two exports into one .tflite or SavedModel, or two shard runs into one OUT, ran side by side (the
last rename won; a SavedModel's old copy could be removed under the other run)."""

import contextlib
import io
import os
import subprocess
import sys
import textwrap

import pytest

from keras_gst.cli import main

HOLDER = textwrap.dedent('''
    import sys, time
    from keras_gst.locks import replace_lock
    with replace_lock(sys.argv[1], command="the first writer"):
        print("locked", flush=True)
        time.sleep(120)
''')


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _held(path):
    """Another process holds the lock of `path` (a lock nests within one process)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def _refused(command, code, err, out, holder):
    assert code == 2, err
    assert err.startswith(f"keras-gst {command}: error: {out} is in use by pid {holder.pid} (`the first writer`"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("target", ["m.tflite", "saved_model"])
def test_a_second_export_into_a_busy_out_is_refused_naming_the_holder(tmp_path, target):
    model, out = tmp_path / "m.keras", tmp_path / target
    model.write_bytes(b"not loaded before the lock")
    fmt = "tflite" if target.endswith(".tflite") else "savedmodel"
    argv = ("export", "--format", fmt, "--model", model, "--out", out, "--no-parity")
    with _held(out) as holder:
        code, _, err = _cli(*argv)
        _refused("export", code, err, out, holder)
        assert not out.exists()
    code, _, err = _cli(*argv)  # the holder was killed: the lock is free, the model is the next thing checked
    assert code == 2 and f"{model}:" in err and "is in use" not in err, err
    assert not out.exists()


def test_a_second_shard_into_a_busy_out_is_refused_naming_the_holder(tmp_path):
    pytest.importorskip("apache_beam")
    videos, out = tmp_path / "videos", tmp_path / "shards"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"never decoded: the run is refused first")
    with _held(out) as holder:
        code, _, err = _cli("shard", videos, out, "--shards", "1", "--no-progress")
        _refused("shard", code, err, out, holder)
        assert not out.exists() and sorted(os.listdir(tmp_path)) == [".shards.keras-gst.lock", "videos"]
    from keras_gst.locks import replace_lock

    with replace_lock(out):  # the holder was killed (its lock file stays): the lock is free
        pass
    assert sorted(os.listdir(tmp_path)) == ["videos"]
