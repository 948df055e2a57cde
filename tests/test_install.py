"""A plain, non-editable `pip install .` works from any directory: the CLI, the shipped benchmarks (with their
PyTorch reference) and a prediction on a real video, with no source checkout on the path."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ["setup.cfg", "pyproject.toml", "README.md", "keras_gst"]


def _venv_with_dependencies(folder):
    """A fresh venv whose own site-packages comes first, with the dependencies of the Python running the
    tests visible behind it (--system-site-packages, and a .pth for a venv-within-a-venv)."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(folder)], check=True, timeout=600)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


@pytest.mark.large
def test_pip_install_runs_the_cli_from_another_directory(tmp_path, real_data):
    import keras

    from keras_gst import GSTResNet18

    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside setup.cfg
    source.mkdir()
    for name in PACKAGE_FILES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    python = _venv_with_dependencies(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["COLUMNS"] = "100"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(source)],
                   check=True, timeout=900, env=env, cwd=tmp_path)
    shutil.rmtree(source)  # nothing may read the sources after installing

    keras.utils.set_random_seed(0)
    model_path = tmp_path / "tiny.keras"
    GSTResNet18(3, weights=None, num_frames=4, input_shape=(32, 32, 3)).save(model_path)
    labels = tmp_path / "labels.txt"
    labels.write_text("left\nright\nup\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = str(python.parent / "keras-gst")

    def run(*argv):
        done = subprocess.run([cli, *argv], capture_output=True, text=True, timeout=600, env=env, cwd=elsewhere)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout

    where = subprocess.run([str(python), "-c", "import keras_gst; print(keras_gst.__file__)"], capture_output=True,
                           text=True, env=env, cwd=elsewhere, check=True).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv")
    # the PyTorch reference that `bench inference` times ships in the package, not in tests/
    assert (Path(where).parent / "benchmarks" / "torch_reference.py").is_file()
    assert run("--help").startswith("usage: keras-gst")
    assert "inference" in run("bench", "--help") and "--data" in run("bench", "export", "--help")
    video = real_data / "videos" / "demo.mp4"
    result = json.loads(run("predict", str(video), "--model", str(model_path), "--labels", str(labels), "--json"))
    assert result["frames"] == 4 and result["size"] == 32
    assert sorted(r["label"] for r in result["topk"]) == ["left", "right", "up"]
    assert abs(sum(r["probability"] for r in result["topk"]) - 1) < 1e-5
