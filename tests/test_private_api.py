"""keras_gst/private_api.py, the one module that uses private Keras, keras-hub, TensorFlow and PyTorch APIs: each one
is still there and still called where that module expects (so an upgrade that moves one fails here, by name),
the reason it is needed still holds, and no other module of keras_gst uses a private API."""

import inspect
import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gst.training.optim import GSTSGD

tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="a private API of the TensorFlow backend")
PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_gst"


def test_no_module_but_private_api_uses_a_private_api():
    """Outside private_api.py: no `obj._name` whose `_name` keras_gst does not define itself, no call of a
    base class's private method (`super()._name`), no keras_hub.src / tensorflow.python / keras.src import."""
    sources = {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p.name != "private_api.py"}
    own = set()
    for text in sources.values():
        own |= set(re.findall(r"\b(?:def|class) (_\w+)", text)) | set(re.findall(r"\.(_[a-z]\w*)\s*=[^=]", text))
        own |= set(re.findall(r"^\s*(_\w+)\s*=", text, re.M))
    found = []
    for path, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            uses = [m.group(0) for m in re.finditer(r"[\w)\]]+\.(_[a-z]\w*)", line)
                    if m.group(1) not in own or m.group(0).startswith("super()")]
            uses += re.findall(r"\b(?:keras_hub\.src|tensorflow\.python|keras\.src|tf\.__internal__)\b", line)
            found += [f"{path.relative_to(PACKAGE.parent)}:{number}: {use}" for use in uses]
    assert not found, "private APIs outside keras_gst/private_api.py:\n" + "\n".join(found)

UPGRADE = ("Keras {version}: the TensorFlow optimizer's `_all_reduce_sum_gradients(grads_and_vars)` {problem}. "
           "GSTSGD clips the gradients after the cross-replica sum by extending it "
           "(keras_gst/private_api.py, ClipAfterCrossReplicaSum): find the new place where Keras sums them.")


@tensorflow_only
def test_keras_still_sums_the_gradients_in_all_reduce_sum_gradients():
    method = getattr(keras.optimizers.SGD, "_all_reduce_sum_gradients", None)
    assert method is not None, UPGRADE.format(version=keras.__version__, problem="is gone")
    assert list(inspect.signature(method).parameters) == ["self", "grads_and_vars"], UPGRADE.format(
        version=keras.__version__, problem=f"has a new signature {inspect.signature(method)}")
    calls = []

    class Spy(GSTSGD):
        def _all_reduce_sum_gradients(self, grads_and_vars):
            calls.append(len(grads_and_vars))
            return super()._all_reduce_sum_gradients(grads_and_vars)

    variables = [keras.Variable(np.zeros((2, 2), "float32")), keras.Variable(np.zeros(2, "float32"))]
    Spy(learning_rate=1.0, momentum=0.0, weight_decay=0.0, clip_norm=1.0).apply(
        [np.array([[3.0, 0.0], [0.0, 0.0]], "float32"), np.array([0.0, 4.0], "float32")], variables)
    assert calls == [2], UPGRADE.format(version=keras.__version__, problem="is no longer called by `apply`")
    # clipped to global norm 1: the gradients (3, 4) have norm 5
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[0]), [[-0.6, 0.0], [0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[1]), [0.0, -0.8], atol=1e-6)


TWO_REPLICAS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import json, keras, numpy as np
from keras_gst.training.optim import GSTSGD

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
for name, make in [("gstsgd", lambda: GSTSGD(1.0, momentum=0.0, weight_decay=0.0, clip_norm=1.0)),
                   ("keras_global_clipnorm", lambda: keras.optimizers.SGD(1.0, global_clipnorm=1.0))]:
    with strategy.scope():
        w = keras.Variable(np.zeros((2, 2), "float32"))
        opt = make()
        opt.build([w])

    @tf.function
    def step():
        def replica_step():
            first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
            grad = tf.where(first, tf.constant([[3.0, 0.0], [0.0, 0.0]]), tf.constant([[0.0, 0.0], [0.0, 4.0]]))
            opt.apply([grad], [w])
        strategy.run(replica_step)

    step()
    print(name, json.dumps(w.numpy().ravel().tolist()))
"""


@tensorflow_only
def test_gstsgd_clips_the_sum_of_the_replicas_gradients():
    """Two CPU replicas with gradients (3, 0) and (0, 4) on two entries of one kernel: the sum (3, 4) has norm
    5, so the paper's clip to norm 1 gives the update (0.6, 0.8). Keras' public `global_clipnorm` clips each
    replica's part to norm 1 before the sum, (1, 1): the reason for keras_gst/private_api.py."""
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    updates = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines()}
    np.testing.assert_allclose(updates["gstsgd"], [-0.6, 0.0, 0.0, -0.8], atol=1e-6)
    np.testing.assert_allclose(updates["keras_global_clipnorm"], [-1.0, 0.0, 0.0, -1.0], atol=1e-6)


def _epoch_scalars(log_dir):
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(os.path.join(log_dir, "train"), size_guidance={"tensors": 0}).Reload()
    return {tag: [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)] for tag in events.Tags()["tensors"]}


@tensorflow_only
def test_tensorboard_writes_the_epochs_learning_rate_at_each_epoch_end(tmp_path):
    """The optimizer's rate is 0.5, the epoch's (from LearningRateLogger) 0.1: Keras' own callback writes 0.5
    (the reason for KeepEpochLearningRate), ours 0.1. Both are on disk right after the epoch, before training
    ends (EpochCommit records them)."""
    from keras_gst.training.callbacks import TensorBoard

    method = getattr(keras.callbacks.TensorBoard, "_collect_learning_rate", None)
    assert method is not None and list(inspect.signature(method).parameters) == ["self", "logs"], (
        f"Keras {keras.__version__}: TensorBoard._collect_learning_rate(logs) moved: keras_gst/private_api.py, "
        "KeepEpochLearningRate, keeps the epoch's learning_rate through it")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    for name, callback_class, rate in (("keras", keras.callbacks.TensorBoard, 0.5), ("ours", TensorBoard, 0.1)):
        callback = callback_class(str(tmp_path / name), write_graph=False)
        callback.set_model(model)
        callback.on_train_begin()
        callback.on_epoch_end(0, {"loss": 1.0, "learning_rate": 0.1})
        scalars = _epoch_scalars(str(tmp_path / name))
        assert scalars == {"epoch_loss": [1.0], "epoch_learning_rate": [pytest.approx(rate)]}, name
        callback.on_train_end()


def test_flatten_layers_finds_every_batchnorm_of_a_gst_resnet18():
    """ResNet-18 has 20 BatchNorms (the stem's, two per basic block x 8, three shortcuts); `Model.layers`
    (public) reaches none of them, as they are sublayers of the units."""
    from keras_gst import GSTResNet18
    from keras_gst.private_api import flatten_layers

    assert "recursive" in inspect.signature(keras.layers.Layer._flatten_layers).parameters, (
        f"Keras {keras.__version__}: Layer._flatten_layers(include_self, recursive) changed: keras_gst/private_api.py, "
        "flatten_layers, walks the nested layers with it")
    model = GSTResNet18(2, weights=None, num_frames=2, input_shape=(32, 32, 3))

    def public_walk(layer):
        return [layer] + [x for child in getattr(layer, "layers", []) for x in public_walk(child)]

    def is_bn(layer):
        return isinstance(layer, keras.layers.BatchNormalization)

    assert not any(is_bn(layer) for layer in public_walk(model))
    found = [layer.path for layer in flatten_layers(model) if is_bn(layer)]
    assert len(found) == len(set(found)) == 20 and "stem/bn" in found and model not in flatten_layers(model)


def test_keras_hub_fills_a_backbone_only_presets_converter_through_add_missing_kwargs(tmp_path, monkeypatch):
    """A preset saved from a backbone alone has no video_converter.json: keras-hub's loader asks
    `_add_missing_kwargs`, where GST's default converter at the backbone's frame size (32) comes in."""
    import keras_hub

    from keras_gst import GSTBackbone, GSTVideoClassifierPreprocessor

    method = inspect.getattr_static(keras_hub.models.Preprocessor, "_add_missing_kwargs", None)
    assert isinstance(method, classmethod), (
        f"keras-hub {keras_hub.__version__}: Preprocessor._add_missing_kwargs(loader, kwargs) is gone: "
        "keras_gst/private_api.py, MissingVideoConverter, fills a missing video converter through it")
    GSTBackbone(depth=18, num_frames=2, image_shape=(32, 32, 3)).save_to_preset(str(tmp_path / "backbone"))
    assert not (tmp_path / "backbone" / "video_converter.json").exists()
    calls = []
    default = GSTVideoClassifierPreprocessor.default_video_converter
    monkeypatch.setattr(GSTVideoClassifierPreprocessor, "default_video_converter",
                        classmethod(lambda cls, config: calls.append(config) or default(config)))
    preprocessor = GSTVideoClassifierPreprocessor.from_preset(str(tmp_path / "backbone"))
    assert len(calls) == 1 and preprocessor.video_converter.image_size == (32, 32)


def test_keras_hubs_preprocessing_function_runs_the_preprocessor_on_numpy_inputs():
    """x: one white and one black pixel per frame, ImageNet-normalised by hand; y and sample_weight pass."""
    from keras_gst import GSTVideoClassifierPreprocessor, GSTVideoConverter

    x = np.zeros((1, 2, 2, 1, 3), "uint8")
    x[:, :, 0] = 255
    preprocessor = GSTVideoClassifierPreprocessor(GSTVideoConverter(image_size=(2, 1)))
    out_x, out_y, out_w = preprocessor(x, np.array([3]), np.array([0.5], "float32"))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = np.zeros((1, 2, 2, 1, 3))
    expected[:, :, 0], expected[:, :, 1] = (1 - mean) / std, -mean / std
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out_x), expected, atol=1e-5)
    assert keras.ops.convert_to_numpy(out_y).tolist() == [3] and keras.ops.convert_to_numpy(out_w).tolist() == [0.5]


@tensorflow_only
def test_variables_to_constants_freezes_a_function():
    import tensorflow as tf

    from keras_gst.private_api import variables_to_constants

    w = tf.Variable([[2.0], [3.0]])
    concrete = tf.function(lambda x: tf.matmul(x, w)).get_concrete_function(tf.TensorSpec((1, 2), tf.float32))
    frozen = variables_to_constants(concrete)
    assert not frozen.graph.variables and not any(op.type == "ReadVariableOp" for op in frozen.graph.get_operations())
    w.assign([[0.0], [0.0]])  # the frozen function keeps the values it was frozen with
    np.testing.assert_allclose(frozen(tf.constant([[1.0, 1.0]]))[0].numpy(), [[5.0]])


def test_frozen_torch_compile_freezes_where_the_public_option_does_not(monkeypatch):
    """Inductor's freezing folds BatchNorm into the convolution as constants, so a later in-place change of the
    BatchNorm scale does not reach a frozen model's output; it does reach a model that was not frozen. With
    torch 2.13, `torch.compile(options={"freezing": True})` is of the second kind (the reason for the private
    flag): when an upgrade makes it freeze, this test says so and the public route can replace it."""
    torch = pytest.importorskip("torch")
    import torch._inductor.config as inductor_config

    from keras_gst.private_api import frozen_torch_compile

    monkeypatch.setattr(inductor_config, "freezing", False)  # restored after the test
    x = torch.rand(1, 3, 8, 8)

    def output_moves_with_the_scale(compile_fn):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
        compiled = compile_fn(model)
        with torch.no_grad():
            before = compiled(x).clone()
            model[1].weight.mul_(2.0)
            return not torch.allclose(compiled(x), before)

    assert output_moves_with_the_scale(lambda m: torch.compile(m, options={"freezing": True})), \
        "torch.compile(options={'freezing': True}) now freezes: use it instead of private_api.frozen_torch_compile"
    torch._dynamo.reset()
    assert not output_moves_with_the_scale(frozen_torch_compile)
