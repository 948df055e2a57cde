"""predict / eval / stream / explain / analyze-bn check every flag before a model or video is loaded.

The model file here is not a model at all (`bad.keras` holds text): had a command loaded it before its
flags, the error would name `--model`/MODEL and not the flag under test. Before: `predict --timing --clips 2
--crops 3` was refused after the model load, `predict --size 100000` segfaulted (an 894 GiB allocation),
a missing output folder or one that is a file ended in a traceback after the work.
"""

import os

import pytest

from keras_gst.cli import main

REFUSALS = [
    (["predict", "{video}", "--model", "{model}", "--timing", "--clips", "2", "--crops", "3"], "--timing"),
    (["predict", "{video}", "--model", "{model}", "--size", "100000"], "--size"),
    (["predict", "{video}", "--model", "{model}", "--size", "8"], "--size"),
    (["predict", "{video}", "--model", "{model}", "--frames", "999"], "--frames"),
    (["predict", "{video}", "--model", "{model}", "--clips", "50", "--crops", "10"], "--clips"),
    (["predict", "{video}", "--model", "{missing}"], "--model"),
    (["predict", "{video}", "--model", "{folder}"], "--model"),
    (["predict", "{video}", "--model", "{model}", "--labels", "{missing}"], "--labels"),
    (["predict", "{missing}", "--model", "{model}"], "VIDEO"),
    (["eval", "{model}", "--annotations", "{list}", "--output-dir", "{file}"], "--output-dir"),
    (["eval", "{model}", "--annotations", "{list}", "--output-dir", "{file}/sub"], "--output-dir"),
    (["eval", "{model}", "--annotations", "{missing}"], "--annotations"),
    (["eval", "{model}", "--annotations", "{list}", "--class-file", "{missing}"], "--class-file"),
    (["eval", "{model}", "--annotations", "{list}", "--crop-size", "100000"], "--crop-size"),
    (["eval", "{model}", "--annotations", "{list}", "--scale-size", "40", "--crop-size", "64"], "--scale-size"),
    (["eval", "{missing}", "--annotations", "{list}"], "MODEL"),
    (["stream", "{video}", "--model", "{missing}"], "--model"),
    (["stream", "{video}", "--model", "{model}", "--plot", "{file}/p.png"], "--plot"),
    (["stream", "{missing}", "--model", "{model}"], "VIDEO"),
    (["explain", "{video}", "--model", "{model}", "--output", "{file}/sub/x.png"], "--output"),
    (["explain", "{video}", "--model", "{model}", "--output", "{folder}"], "--output"),
    (["explain", "{video}", "--model", "{model}", "--size", "100000"], "--size"),
    (["explain", "{video}", "--model", "{missing}"], "--model"),
    (["analyze-bn", "{missing}"], "MODEL"),
    (["analyze-bn", "{model}", "--output", "{file}/x.png"], "--output"),
    (["analyze-bn", "{model}", "--bins", "100000"], "--bins"),
]


@pytest.fixture()
def paths(tmp_path):
    (tmp_path / "bad.keras").write_text("not a model: loading it fails")
    (tmp_path / "clip.mp4").write_bytes(b"never decoded")
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "val.txt").write_text(f"{tmp_path / 'clip.mp4'} 0\n")
    (tmp_path / "folder").mkdir()
    return {"model": tmp_path / "bad.keras", "video": tmp_path / "clip.mp4", "file": tmp_path / "a_file",
            "list": tmp_path / "val.txt", "missing": tmp_path / "missing", "folder": tmp_path / "folder"}


@pytest.mark.parametrize("argv, flag", REFUSALS, ids=[" ".join(a[:1] + a[3:]) for a, _ in REFUSALS])
def test_refused_naming_the_flag_before_any_load(argv, flag, paths, capsys):
    code = main([a.format(**{k: str(v) for k, v in paths.items()}) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"argument {flag}:" in err and "Traceback" not in err, err


def test_an_unwritable_output_folder_is_refused(paths, capsys):
    target = "/proc/self/keras-gst-out"  # procfs takes no new files, for root too
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    code = main(["eval", str(paths["model"]), "--annotations", str(paths["list"]), "--output-dir", target])
    err = capsys.readouterr().err
    assert code == 2 and "argument --output-dir: cannot write in /proc/self" in err


def test_checks_are_library_functions_with_the_parameter_name(tmp_path):
    from keras_gst.checks import check_predict_args
    from keras_gst.errors import ParameterError

    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    with pytest.raises(ParameterError) as info:
        check_predict_args(str(tmp_path / "m.tflite"), str(video), size=100000)
    assert info.value.param == "size" and "<= 1024" in str(info.value)
    with pytest.raises(ParameterError) as info:
        check_predict_args(str(tmp_path / "m.tflite"), str(video), timing=True, num_clips=2)
    assert info.value.param == "timing"


def test_an_output_in_folders_still_to_be_made_is_accepted(tmp_path):
    """The writers create missing folders: a path under them passes when the nearest existing ancestor is a
    writable folder, and is refused when that ancestor is a file."""
    from keras_gst.checks import check_output
    from keras_gst.errors import ParameterError

    assert check_output("plot", str(tmp_path / "new" / "deeper" / "p.png")) == str(tmp_path / "new" / "deeper" / "p.png")
    check_output("output_dir", str(tmp_path / "new" / "run"), directory=True)
    assert not (tmp_path / "new").exists()  # checking writes nothing that stays
    (tmp_path / "a_file").write_text("x")
    for path, directory, text in ((tmp_path / "a_file" / "sub" / "p.png", False, "a_file is a file, not a folder"),
                                  (tmp_path / "a_file", True, "a_file is a file, not a folder"),
                                  (tmp_path, False, "is a folder; name a file")):
        with pytest.raises(ParameterError, match=text) as info:
            check_output("out", str(path), directory=directory)
        assert info.value.param == "out"
