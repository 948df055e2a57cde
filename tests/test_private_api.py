"""keras_gst/private_api.py, the one module that uses private Keras APIs: each one is still there and still
called where that module expects (so a Keras upgrade that moves one fails here, by name), and the reason it
is needed still holds."""

import inspect
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gst.training.optim import GSTSGD

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="the private method belongs to the TensorFlow backend's optimizer")

UPGRADE = ("Keras {version}: the TensorFlow optimizer's `_all_reduce_sum_gradients(grads_and_vars)` {problem}. "
           "GSTSGD clips the gradients after the cross-replica sum by extending it "
           "(keras_gst/private_api.py, ClipAfterCrossReplicaSum): find the new place where Keras sums them.")


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


def test_gstsgd_clips_the_sum_of_the_replicas_gradients():
    """Two CPU replicas with gradients (3, 0) and (0, 4) on two entries of one kernel: the sum (3, 4) has norm
    5, so the paper's clip to norm 1 gives the update (0.6, 0.8). Keras' public `global_clipnorm` clips each
    replica's part to norm 1 before the sum, (1, 1): the reason for keras_gst/private_api.py."""
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    updates = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines()}
    np.testing.assert_allclose(updates["gstsgd"], [-0.6, 0.0, 0.0, -0.8], atol=1e-6)
    np.testing.assert_allclose(updates["keras_global_clipnorm"], [-1.0, 0.0, 0.0, -1.0], atol=1e-6)
