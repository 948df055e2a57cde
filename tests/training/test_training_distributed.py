"""Distribution: `fit` under MirroredStrategy with 2 logical CPU replicas (the multi-replica path with
Dropout and BN really runs), and MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1
(custom loop; keras-team/keras#20585 breaks `model.fit` there): both finish and hold the same weights."""

import json
import os
import subprocess

import numpy as np
import pytest

from cli_helpers import run_python
from training_helpers import PYTHON, free_ports

RECIPE = """
Recipe(dataset="list", train_annotations={train!r}, val_annotations={val!r}, class_file={classes!r},
       depth=18, num_frames=4, scale_size=40, crop_size=32, weights=None, dropout=0.3, epochs=2, batch_size=2,
       steps_per_epoch=2, decay_epochs=(1,), output_dir={out!r}, seed=0, verbose=0, keep_checkpoints=1)
"""

MIRRORED = """
import json
from keras_gst.training import split_cpu
split_cpu(2)
import numpy as np
from keras_gst.training import Recipe, fit
res = fit({recipe})
m = res.model
def spread(variables):
    return max(float(max(np.abs(x.numpy() - v.value.values[0].numpy()).max() for x in v.value.values)) for v in variables)
bn = [v for v in m.non_trainable_variables if "moving_" in v.path]
print("RESULT" + json.dumps(dict(replicas=res.num_replicas, global_batch=res.global_batch, lr=res.learning_rate,
      history=res.history, per_replica_copies=len(m.trainable_variables[0].value.values),
      trainable_spread=spread(m.trainable_variables), bn_spread=spread(bn), evaluation=res.evaluation,
      iterations=int(m.optimizer.iterations.numpy()))))
"""


def _result(proc):
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


@pytest.mark.large
def test_fit_under_mirrored_strategy_with_two_cpu_replicas(synthetic_data, tmp_path):
    out = str(tmp_path / "run")
    recipe = RECIPE.format(out=out, **synthetic_data)
    r = _result(run_python("-c", MIRRORED.format(recipe=recipe), timeout=400))
    assert r["replicas"] == 2 and r["per_replica_copies"] == 2
    assert r["global_batch"] == 4  # 2 clips per replica x 2 replicas
    assert r["lr"] == pytest.approx(0.01 * 4 / 24)  # lr scales with the global batch
    assert r["iterations"] == 4
    assert len(r["history"]["loss"]) == 2 and all(np.isfinite(r["history"]["loss"]))
    assert "val_top1" in r["history"] and "top5" in r["history"]
    np.testing.assert_allclose(r["history"]["learning_rate"], [0.01 * 4 / 24, 0.01 * 4 / 24 * 0.1], rtol=1e-5)
    assert r["trainable_spread"] == 0.0  # mirrored updates: replicas hold identical weights
    assert r["bn_spread"] < 1e-6  # BN moving statistics averaged over the replicas at each epoch end
    assert r["evaluation"]["num_samples"] == 2
    for name in ("best.keras", "history.csv", "recipe.json", "eval/confusion.png",
                 "eval/confusion.csv", "eval/per_class.csv", "plots/bn_gamma.png", "checkpoints/epoch_002.keras"):
        assert os.path.exists(os.path.join(out, name)), name
    assert not os.path.exists(os.path.join(out, "checkpoints", "epoch_001.keras"))  # keep_checkpoints=1
    assert not os.path.exists(os.path.join(out, "backup"))  # removed after a completed run
    _check_tensorboard(os.path.join(out, "tensorboard"))


def _check_tensorboard(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train = EventAccumulator(os.path.join(log_dir, "train"), size_guidance={"tensors": 0}).Reload()
    tags = set(train.Tags()["tensors"]) | set(train.Tags()["scalars"])
    assert {"epoch_loss", "epoch_top1", "epoch_learning_rate"} <= tags, tags
    lr = [float(np.asarray(__import__("tensorflow").make_ndarray(e.tensor_proto))) for e in train.Tensors("epoch_learning_rate")]
    np.testing.assert_allclose(lr, [0.01 * 4 / 24, 0.01 * 4 / 24 * 0.1], rtol=1e-5)
    bn = EventAccumulator(os.path.join(log_dir, "bn_gamma"), size_guidance={"tensors": 0}).Reload()
    hist_tags = [t for t in bn.Tags()["tensors"] if t.startswith("bn_gamma/")]
    assert "bn_gamma/stack0_block0_1/spatial" in hist_tags and "bn_gamma/stack3_block1_2/temporal" in hist_tags
    assert len(hist_tags) == 2 * 16  # spatial + temporal for each of ResNet-18's 16 GST units
    assert len(bn.Tensors("bn_gamma/stack0_block0_1/temporal")) == 2  # one per epoch


WORKER = """
import json, os
import numpy as np
from keras_gst.training import Recipe, fit
res = fit({recipe})
m = res.model
np.savez(os.path.join(res.paths["root"], "weights.npz"), *[v.numpy() for v in m.weights])
print("RESULT" + json.dumps(dict(replicas=res.num_replicas, chief=res.is_chief, root=res.paths["root"],
      history=res.history, iterations=int(m.optimizer.iterations.numpy()), names=[v.path for v in m.weights])))
"""


@pytest.mark.large
@pytest.mark.timeout(600)
def test_multi_worker_two_processes_agree(synthetic_data, tmp_path):
    out = str(tmp_path / "mw")
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    code = WORKER.format(recipe=RECIPE.format(out=out, **synthetic_data))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    procs = []
    for index in range(2):
        worker_env = dict(env, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([PYTHON, "-c", code], env=worker_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=420)
            outputs.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    finally:
        for p in procs:  # bounded: never leave a worker waiting for its peer
            if p.poll() is None:
                p.kill()
                p.wait()
    results = [_result(o) for o in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]
    assert results[0]["root"] == out and results[1]["root"] == os.path.join(out, "workers", "worker_1")
    assert [r["iterations"] for r in results] == [4, 4]
    assert results[0]["history"]["loss"] == pytest.approx(results[1]["history"]["loss"])  # reduced over workers
    w0, w1 = (np.load(os.path.join(r["root"], "weights.npz")) for r in results)
    assert len(w0.files) == len(w1.files) == len(results[0]["names"])
    for key, name in zip(w0.files, results[0]["names"]):
        np.testing.assert_allclose(w0[key], w1[key], rtol=1e-5, atol=1e-6, err_msg=name)
    # training moved the weights (the classifier bias starts at 0, BN gammas at 1), BN statistics were updated
    names = results[0]["names"]
    assert np.abs(w0[w0.files[names.index("frame_logits/bias")]]).max() > 1e-4
    assert np.abs(w0[w0.files[names.index("stack3_block1_2/bn/gamma")]] - 1).max() > 0
    assert np.abs(w0[w0.files[names.index("stack3_block1_2/bn/moving_mean")]]).max() > 1e-4
    # the chief wrote the best model and TensorBoard; the other worker only its backup, removed at the end
    assert os.path.exists(os.path.join(out, "best.keras")) and os.path.exists(os.path.join(out, "tensorboard"))
    assert os.path.exists(os.path.join(out, "workers", "worker_1")) and not any(
        f.endswith(".keras") for f in os.listdir(os.path.join(out, "workers", "worker_1")))
    assert not os.path.exists(os.path.join(out, "workers", "worker_1", "tensorboard"))


def test_num_workers_counts_the_chief_and_the_workers_of_the_cluster():
    """From the strategy's public cluster resolver: 1 chief + 2 workers (the parameter server does not
    train) = 3; a strategy without a cluster (one machine) is 1."""
    import types

    import tensorflow as tf

    from keras_gst.training.distribute import num_workers

    spec = tf.train.ClusterSpec({"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]})
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, task_type="worker", task_id=1)
    assert num_workers(types.SimpleNamespace(cluster_resolver=resolver)) == 3
    assert num_workers(tf.distribute.get_strategy()) == 1
