"""The model family without TensorFlow installed (run by tests/test_no_tensorflow.py, one process per backend):

    KERAS_BACKEND=jax PYTHONPATH=. python tests/no_tensorflow_check.py OUT_DIR

in an environment with Keras, keras-hub, JAX and torch and no TensorFlow. Builds a tiny GST-R18, trains it with
plain `model.fit` and a standard Keras optimizer, runs the paper's optimiser (`GSTSGD`) against a NumPy
reference of PyTorch's clip + SGD, and round-trips a preset and a `.keras` file. Prints `OK <backend>`.
"""

import importlib.util
import sys
from pathlib import Path

import keras  # before keras_gst: its classes are registered at `import keras_gst`
import numpy as np

import keras_gst

T, SIZE, CLASSES = 2, 32, 3


def torch_style_sgd(weights, grads_seq, lr, momentum, wd, clip):
    """PyTorch's clip_grad_norm_(all grads, clip) then SGD(momentum, weight_decay on rank >= 2 tensors)."""
    w = [x.astype(np.float64) for x in weights]
    buf = [np.zeros_like(x) for x in w]
    for grads in grads_seq:
        norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
        scale = min(1.0, clip / norm)
        for i, g in enumerate(grads):
            d = g * scale + (wd * w[i] if w[i].ndim >= 2 else 0.0)
            buf[i] = momentum * buf[i] + d
            w[i] = w[i] - lr * buf[i]
    return w


def check_gstsgd():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 3, 2, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
    variables = [keras.Variable(w) for w in weights]
    opt = keras_gst.GSTSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.05, clip_norm=1.0)
    grads_seq = [[rng.normal(size=w.shape).astype("float32") * 5 for w in weights] for _ in range(3)]
    for grads in grads_seq:
        opt.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
    for v, e in zip(variables, torch_style_sgd(weights, grads_seq, 0.1, 0.9, 0.05, 1.0)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(v), e, rtol=1e-5, atol=1e-5)


def main(out):
    assert importlib.util.find_spec("tensorflow") is None, "TensorFlow is installed in this environment"
    backend = keras.backend.backend()
    keras.utils.set_random_seed(0)
    model = keras_gst.GSTResNet18(CLASSES, weights=None, num_frames=T, input_shape=(SIZE, SIZE, 3), dropout=0.0)
    rng = np.random.default_rng(1)
    clips = rng.uniform(0, 255, size=(4, T, SIZE, SIZE, 3)).astype("float32")  # pixels: the factory's preprocessor normalises
    labels = np.array([0, 1, 2, 1])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(clips, labels, epochs=6, batch_size=4, verbose=0).history["loss"]
    # one fixed batch: training drives its loss down from about ln(3) (three classes, a fresh head)
    assert np.isfinite(history).all() and history[-1] < 0.8 * history[0], history

    check_gstsgd()

    # a preset and a .keras file round trip through keras-hub's and Keras' own loaders
    import keras_hub

    out = Path(out)
    model.save_to_preset(str(out / "preset"))
    backbone = keras_hub.models.Backbone.from_preset(str(out / "preset"))
    assert type(backbone) is keras_gst.GSTBackbone
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone(clips)),
                               keras.ops.convert_to_numpy(model.backbone(clips)), atol=1e-5)
    model.save(out / "m.keras")
    loaded = keras.saving.load_model(out / "m.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(clips)), keras.ops.convert_to_numpy(model(clips)),
                               atol=1e-5)
    assert "tensorflow" not in sys.modules
    print(f"OK {backend}")


if __name__ == "__main__":
    main(sys.argv[1])
