"""neurosim.record: any callable's activity as labelled trajectories; the torch and jax adapters
(skipped when the library is absent); compare(array, array) with assumed dims."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.record import record, record_jax, record_torch
from neurosim.rnn import LeakyRNN, activity
from neurosim.rnn.tasks import PerceptualDecision


def test_callable_on_a_task_equals_the_trainers_activity():
    task = PerceptualDecision()
    model = LeakyRNN(task.n_in, 12, task.n_out, seed=1)
    da = record(lambda x: model.run(x).r, task)
    ref = activity(model, task)
    assert da.dims == ref.dims and list(da.indexes["condition"]) == list(ref.indexes["condition"])
    assert da.indexes["condition"].names == ref.indexes["condition"].names
    np.testing.assert_array_equal(da.time.values, ref.time.values)
    np.testing.assert_allclose(da.values, ref.values, rtol=0, atol=0)
    assert da.attrs["task"] == task.name and float(neurosim.compare(da, ref)) < 1e-6


def test_repeated_conditions_are_trials():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 3))
    W = rng.normal(size=(3, 4))
    labels = ["up", "down", "up", "down", "up", "down"]
    da = record(lambda v: v @ W, x, conditions=labels, dt=20.0)
    np.testing.assert_allclose(da.sel(condition="up").values, (x[[0, 2, 4]] @ W).mean(0), rtol=0, atol=1e-14)
    assert da.time.values.tolist() == [20.0 * k for k in range(8)] and da.time.attrs["units"] == "ms"
    trials = record(lambda v: v @ W, x, conditions=labels, dt=20.0, keep_trials=True)
    assert trials.sizes["trial"] == 3 and trials.n_trials.values.tolist() == [3, 3]
    steps = record(lambda v: v @ W, x)
    assert steps.time.attrs["units"] == "steps" and steps.sizes["condition"] == 6


def test_record_errors():
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"shape \(2, 3\); expected \(batch, time, units\) = \(2, 5, N\)"):
        record(lambda v: v[:, 0, :], x)
    with pytest.raises(ValueError, match="time-major"):
        record(lambda v: np.swapaxes(v, 0, 1), x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        record(lambda v: np.full(v.shape, np.inf), x)
    with pytest.raises(TypeError, match="step_fn must be a callable"):
        record("model", x)
    with pytest.raises(ValueError, match=r"inputs must be a numeric \(batch, time, in\) array"):
        record(lambda v: v, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="time must hold 5 values"):
        record(lambda v: v, x, time=[0.0, 1.0])
    with pytest.raises(ValueError, match="dt must be a number"):
        record(lambda v: v, x, dt="10")
    with pytest.raises(ValueError, match="2 labels but there are 3"):
        record(lambda v: v, np.zeros((3, 5, 2)), conditions=["a", "b"])


def test_torch_forward_hook_on_a_named_layer():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(3, 7, batch_first=True)
            self.readout = torch.nn.Linear(7, 2)

        def forward(self, x):
            return self.readout(self.rnn(x)[0])

    net = Net().double()
    x = np.random.default_rng(0).normal(size=(4, 9, 3))
    da = record_torch(net, x, layer="rnn", conditions=["a", "b", "c", "d"], dt=10.0)
    with torch.no_grad():
        ref = net.rnn(torch.as_tensor(x))[0].numpy()
    assert da.dims == ("condition", "time", "unit") and da.sizes["unit"] == 7
    np.testing.assert_allclose(da.values, ref, rtol=0, atol=1e-12)
    out = record_torch(net, x, conditions=["a", "b", "c", "d"])
    assert out.sizes["unit"] == 2 and da.attrs["layer"] == "rnn"
    with pytest.raises(ValueError, match="layer='hidden' is not a sub-module"):
        record_torch(net, x, layer="hidden")
    tm = torch.nn.RNN(3, 5).double()  # time-major
    tdata = record_torch(tm, x, batch_first=False)
    with torch.no_grad():
        tref = tm(torch.as_tensor(np.swapaxes(x, 0, 1)))[0].numpy()
    np.testing.assert_allclose(tdata.values, np.swapaxes(tref, 0, 1), rtol=0, atol=1e-12)


def test_jax_function():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    W = np.random.default_rng(0).normal(size=(3, 5))

    def hidden(params, x):
        def step(h, xt):
            h = jnp.tanh(h @ params["rec"] + xt @ params["in"])
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros((x.shape[0], 5)), jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(hs, 0, 1)

    params = {"in": jnp.asarray(W, dtype=jnp.float32), "rec": 0.5 * jnp.eye(5, dtype=jnp.float32)}
    x = np.random.default_rng(1).normal(size=(2, 6, 3))
    da = record_jax(hidden, x, params=params, conditions=["l", "r"], dt=10.0)
    assert da.dims == ("condition", "time", "unit") and da.sizes["unit"] == 5
    h, ref = np.zeros((2, 5)), []
    for t in range(6):
        h = np.tanh(h @ (0.5 * np.eye(5)) + x[:, t] @ W)
        ref.append(h)
    np.testing.assert_allclose(da.values, np.stack(ref, 1), rtol=0, atol=1e-5)  # float32 in jax


def test_compare_two_plain_arrays_of_the_same_shape():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 10, 5)), rng.normal(size=(4, 10, 5))
    with pytest.warns(UserWarning, match=r"assuming dims \('condition', 'time', 'unit'\)"):
        s = neurosim.compare(a, b)
    ref = neurosim.compare(neurosim.trajectories(a), neurosim.trajectories(b))
    assert s.value == ref.value and "assumed_dims" in s.settings
    with pytest.raises(TypeError, match=r"shapes \(4, 10, 5\) and \(4, 9, 5\)"):
        neurosim.compare(a, b[:, :9])
    with pytest.raises(TypeError, match="same 3-D shape"):
        neurosim.compare(a[0], b[0])
    assert neurosim.compare(a, b, dims=("condition", "time", "unit")).value == s.value
