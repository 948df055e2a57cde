"""Model files that are not a keras_gst classifier: each is a `ModelFileError` naming the file and what it
is, and `predict` exits 2 with that one line (before: 8 tracebacks and 3 messages without the file name)."""

import json
import zipfile

import numpy as np
import pytest

import keras
from keras_gst.cli import main
from keras_gst.errors import ModelFileError
from keras_gst.models import load_model


def _sequential():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            zout.writestr(item, data)


def make_lambda(path):
    keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)]).save(path)


def make_unknown_class(path):
    plain = path.with_name("plain.keras")
    _sequential().save(plain)

    def rename(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Dense":
                layer["class_name"] = "NoSuchLayer"
        return config

    _rewrite_config(plain, path, rename)


def make_torn(path):
    from keras_gst import GSTResNet18

    full = path.with_name("full.keras")
    GSTResNet18(3, weights=None, num_frames=2, input_shape=(32, 32, 3)).save(full)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # an interrupted copy


def make_h5(path):
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)


def make_zip_bomb(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b"{" + b" " * (80 << 20) + b"}")  # 80 MiB that packs to ~80 KiB


def make_sequential(path):
    _sequential().save(path)


def make_hub_backbone(path):
    import keras_hub

    keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[1, 1, 1, 1], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False).save(path)


CASES = {  # name -> (maker, file name, what the message says)
    "lambda": (make_lambda, "lambda.keras", "Lambda layer"),
    "unknown class": (make_unknown_class, "unknown.keras", "NoSuchLayer"),
    "torn .keras": (make_torn, "torn.keras", "torn"),
    ".h5": (make_h5, "model.h5", "not a .keras file"),
    "zip bomb": (make_zip_bomb, "bomb.keras", "unpacks to"),
    "Sequential": (make_sequential, "seq.keras", "holds a keras Sequential"),
    "keras-hub backbone": (make_hub_backbone, "resnet.keras", "holds a keras_hub ResNetBackbone"),
    "missing": (None, "missing.keras", "does not exist"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_model_file_is_named(case, tmp_path, capsys):
    maker, name, says = CASES[case]
    path = tmp_path / name
    if maker:
        maker(path)
    with pytest.raises(ModelFileError) as info:
        load_model(str(path))
    assert info.value.path == str(path) and says in str(info.value)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not decoded: the model is refused first")
    code = main(["predict", str(video), "--model", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err and says in err and "Traceback" not in err, err
    assert err.count("\n") == 1  # one line


def test_a_lambda_is_never_run(tmp_path):
    """safe_mode: the Lambda's code is not deserialised, so it cannot run at load time."""
    marker = tmp_path / "ran"
    code = f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(eval(code))])
    model.save(tmp_path / "l.keras")
    np.asarray(model(np.zeros((1, 3), "float32")))
    marker.unlink()  # the call above ran it once; loading must not
    with pytest.raises(ModelFileError, match="Lambda"):
        load_model(str(tmp_path / "l.keras"))
    assert not marker.exists()


@pytest.mark.parametrize("case", ["torn .keras", "Sequential"])
def test_export_names_a_bad_model_file_once(case, tmp_path, capsys):
    """Before: `argument --model: M: cannot be loaded as a keras_gst model: M: not a readable ...` (the file
    named twice, the reason wrapped in a second one)."""
    maker, name, says = CASES[case]
    path = tmp_path / name
    maker(path)
    code = main(["export", "--format", "tflite", "--model", str(path), "--out", str(tmp_path / "m.tflite"),
                 "--no-parity"])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count(str(path)) == 1 and "cannot be loaded" not in err, err
    assert not (tmp_path / "m.tflite").exists()
