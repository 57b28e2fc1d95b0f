"""Curvature: eigen-solvers and Hutchinson on explicit quadratic forms, then on real RNN losses."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.rnn.analysis.curvature import (
    CurvatureConvergenceError,
    hutchinson_trace,
    top_eigenvalues,
)


def _symmetric_with_spectrum(eigs, seed=0):
    eigs = np.asarray(eigs, dtype=float)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(eigs.size, eigs.size)))
    return (Q * eigs) @ Q.T, Q


# ---------------------------------------------------------------- top_eigenvalues on known spectra
@pytest.mark.parametrize("k", [1, 3])
def test_lanczos_recovers_known_spectrum_largest_algebraic(k):
    # a large-magnitude negative eigenvalue must NOT be returned: "LA" = largest algebraic
    eigs = np.concatenate([[-50.0], np.linspace(-3, 10, 38), [12.5]])
    H, _ = _symmetric_with_spectrum(eigs)
    got = top_eigenvalues(lambda v: H @ v, H.shape[0], k=k, tol=1e-10)
    np.testing.assert_allclose(got, np.sort(eigs)[::-1][:k], rtol=1e-9)


def test_lanczos_eigenvectors_are_eigenvectors():
    eigs = np.linspace(0.1, 5.0, 25)
    H, Q = _symmetric_with_spectrum(eigs, seed=3)
    vals, vecs = top_eigenvalues(lambda v: H @ v, 25, k=2, tol=1e-12, return_eigenvectors=True)
    np.testing.assert_allclose(H @ vecs, vecs * vals, atol=1e-9)
    # the leading one is +-Q[:, -1]
    assert abs(abs(vecs[:, 0] @ Q[:, -1]) - 1.0) < 1e-9


def test_power_iteration_matches_dominant_eigenvalue():
    eigs = np.concatenate([np.linspace(0.0, 4.0, 29), [8.0]])  # gap ratio 0.5 -> fast convergence
    H, _ = _symmetric_with_spectrum(eigs, seed=1)
    got = top_eigenvalues(lambda v: H @ v, 30, method="power", tol=1e-12, max_iter=500)
    np.testing.assert_allclose(got, [8.0], rtol=1e-9)


def test_power_iteration_finds_largest_magnitude_not_algebraic():
    # documented difference from Lanczos: power iteration locks onto |lambda| max
    H = np.diag([-9.0, 1.0, 2.0, 3.0])
    got = top_eigenvalues(lambda v: H @ v, 4, method="power", tol=1e-12, max_iter=2000)
    np.testing.assert_allclose(got, [-9.0], rtol=1e-8)
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 4, k=1), [3.0], rtol=1e-8)


def test_power_iteration_cap_raises():
    H = np.diag(np.r_[np.ones(10), 1.0 + 1e-9])  # no gap: cannot converge to 1e-15 in 5 steps
    H[0, 0] = 0.5
    with pytest.raises(CurvatureConvergenceError, match="max_iter=5"):
        top_eigenvalues(lambda v: H @ v, 11, method="power", tol=1e-15, max_iter=5)


def test_lanczos_iteration_cap_raises():
    rng = np.random.default_rng(0)
    H, _ = _symmetric_with_spectrum(rng.normal(size=120), seed=2)
    with pytest.raises(CurvatureConvergenceError, match="max_iter=1"):
        top_eigenvalues(lambda v: H @ v, 120, k=6, tol=1e-14, max_iter=1)


def test_small_operator_falls_back_to_dense():
    H = np.array([[2.0, 1.0], [1.0, 2.0]])  # eigenvalues 3, 1; ARPACK would need k < dim
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 2, k=2), [3.0, 1.0])
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 2, k=1), [3.0])


def test_eigen_solver_is_deterministic_for_a_seed():
    H, _ = _symmetric_with_spectrum(np.linspace(1, 2, 40), seed=4)
    a = top_eigenvalues(lambda v: H @ v, 40, k=2, seed=7)
    b = top_eigenvalues(lambda v: H @ v, 40, k=2, seed=7)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(dim=0), ValueError, "dim must be >= 1"),
        (dict(dim=3.0), TypeError, "dim must be a positive int"),
        (dict(k=5), ValueError, "only dim=4"),
        (dict(tol=-1.0), ValueError, "tol must be a positive"),
        (dict(tol=float("nan")), ValueError, "tol must be a positive"),
        (dict(max_iter=0), ValueError, "max_iter must be >= 1"),
        (dict(method="lanczoss"), ValueError, "Did you mean 'lanczos'"),
        (dict(method="power", k=2), ValueError, "use method='lanczos'"),
    ],
)
def test_top_eigenvalues_rejects_bad_input(kwargs, exc, msg):
    H = np.eye(4)
    args = dict(dim=4) | kwargs
    with pytest.raises(exc, match=msg):
        top_eigenvalues(lambda v: H @ v, **args)


def test_hvp_returning_nan_or_wrong_size_is_named():
    with pytest.raises(ValueError, match="NaN or inf"):
        top_eigenvalues(lambda v: np.full_like(v, np.nan), 10)
    with pytest.raises(ValueError, match="length 3, expected dim=10"):
        top_eigenvalues(lambda v: v[:3], 10)


# ---------------------------------------------------------------- Hutchinson
def test_hutchinson_is_exact_for_diagonal_with_rademacher():
    d = np.random.default_rng(0).normal(size=50)
    est = hutchinson_trace(lambda v: d * v, 50, n_samples=3)
    assert est.value == pytest.approx(d.sum(), abs=1e-12)
    assert est.stderr == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
def test_hutchinson_unbiased_and_variance_matches_closed_form(distribution):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(20, 20))
    H = A + A.T
    n = 4000
    est = hutchinson_trace(lambda v: H @ v, 20, n_samples=n, distribution=distribution, seed=2)
    # unbiased: within 4 standard errors of the true trace
    assert abs(est.value - np.trace(H)) < 4 * est.stderr
    # per-sample variance: 2(||H||_F^2 - sum H_ii^2) for Rademacher, 2||H||_F^2 for Gaussian
    fro2 = np.sum(H**2)
    var = 2 * (fro2 - np.sum(np.diag(H) ** 2)) if distribution == "rademacher" else 2 * fro2
    assert np.var(est.samples, ddof=1) == pytest.approx(var, rel=0.1)
    assert est.stderr == pytest.approx(np.sqrt(var / n), rel=0.1)
    assert float(est) == est.value


def test_hutchinson_rejects_bad_input():
    with pytest.raises(ValueError, match="Did you mean 'gaussian'"):
        hutchinson_trace(lambda v: v, 3, distribution="gausian")
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        hutchinson_trace(lambda v: v, 3, n_samples=0)


# ---------------------------------------------------------------- the RNN loss Hessian
from neurosim.rnn import LeakyRNN, loss  # noqa: E402
from neurosim.rnn.analysis.curvature import (  # noqa: E402
    dense_hessian,
    hessian_top_eigenvalues,
    hessian_trace,
    hessian_vector_product,
)
from neurosim.rnn.tasks import PerceptualDecision  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    task = PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)
    model = LeakyRNN(task.n_in, 5, task.n_out, activation="tanh", g0=1.2, seed=3)
    batch = task.batch(6, np.random.default_rng(0))
    return model, batch


def _loss_second_differences(model, batch, name, h=1e-4):
    """Dense Hessian from loss VALUES only (independent of the gradient code and of the HVP)."""
    theta = model.params[name].ravel().copy()
    n = theta.size

    def E(vec):
        p = dict(model.params)
        p[name] = vec.reshape(model.params[name].shape)
        return loss(model, batch, params=p)

    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = H[j, i] = (
                E(theta + ei + ej) - E(theta + ei - ej) - E(theta - ei + ej) + E(theta - ei - ej)
            ) / (4 * h * h)
    return H


def test_top_eigenvalues_match_dense_hessian(tiny):
    model, batch = tiny
    H = dense_hessian(model, batch, hvp="fd")            # finite differences of exact gradients
    dense = np.sort(np.linalg.eigvalsh(H))[::-1]
    lam = hessian_top_eigenvalues(model, batch, k=3, tol=1e-10)
    np.testing.assert_allclose(lam, dense[:3], rtol=1e-4)
    assert abs(lam[0] - dense[0]) / abs(dense[0]) <= 1e-4
    power = hessian_top_eigenvalues(model, batch, method="power", tol=1e-10, max_iter=2000)
    if abs(dense[0]) >= abs(dense[-1]):                  # power finds the largest |lambda|
        np.testing.assert_allclose(power, dense[:1], rtol=1e-4)


@pytest.mark.parametrize("hvp", ["exact", "fd"])
def test_dense_hessian_matches_loss_second_differences(tiny, hvp):
    # an independent reference: second differences of the loss itself, no gradient code involved
    model, batch = tiny
    H = dense_hessian(model, batch, hvp=hvp)
    H_ref = _loss_second_differences(model, batch, "W_rec")
    assert np.max(np.abs(H - H_ref)) <= 1e-5 * np.max(np.abs(H_ref))
    np.testing.assert_allclose(np.linalg.eigvalsh(H)[-1], np.linalg.eigvalsh(H_ref)[-1], rtol=1e-5)


@pytest.mark.parametrize("hvp", ["exact", "fd"])
def test_hvp_symmetric_and_linear(tiny, hvp):
    model, batch = tiny
    rng = np.random.default_rng(5)
    names = ("W_rec", "W_in", "b")
    dim = sum(model.params[n].size for n in names)
    u, v = rng.normal(size=dim), rng.normal(size=dim)
    Hu = hessian_vector_product(model, batch, u, params=names, hvp=hvp)
    Hv = hessian_vector_product(model, batch, v, params=names, hvp=hvp)
    tol = 1e-12 if hvp == "exact" else 1e-7
    assert abs(u @ Hv - v @ Hu) <= tol * np.linalg.norm(u) * np.linalg.norm(Hv)
    H_comb = hessian_vector_product(model, batch, 2.0 * u - 3.0 * v, params=names, hvp=hvp)
    np.testing.assert_allclose(H_comb, 2.0 * Hu - 3.0 * Hv, atol=tol * np.linalg.norm(H_comb))
    np.testing.assert_array_equal(hessian_vector_product(model, batch, np.zeros(dim), params=names), 0.0)


def test_hvp_dict_form_and_model_untouched(tiny):
    model, batch = tiny
    before = {k: a.copy() for k, a in model.params.items()}
    rng = np.random.default_rng(1)
    v = {"W_rec": rng.normal(size=(5, 5)), "b": rng.normal(size=5)}
    out = hessian_vector_product(model, batch, v, params=("W_rec", "b"))
    flat = hessian_vector_product(model, batch, np.r_[v["W_rec"].ravel(), v["b"]], params=("W_rec", "b"))
    np.testing.assert_array_equal(np.r_[out["W_rec"].ravel(), out["b"]], flat)
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])


def test_hessian_trace_matches_dense_trace(tiny):
    model, batch = tiny
    H = dense_hessian(model, batch)
    est = hessian_trace(model, batch, n_samples=200, seed=1)
    assert abs(est.value - np.trace(H)) < 4 * est.stderr
    # and its standard error is the Rademacher closed form sqrt(2 (||H||_F^2 - sum H_ii^2) / n)
    se = np.sqrt(2 * (np.sum(H**2) - np.sum(np.diag(H) ** 2)) / 200)
    assert est.stderr == pytest.approx(se, rel=0.25)


def _center_out_tiny():
    from neurosim.rnn.tasks import CenterOutReach

    t = np.arange(-60.0, 61.0, 10.0)
    kin = np.stack([np.sin(t / 40.0)[None, :] * np.array([[1.0], [-0.5]]),
                    np.cos(t / 50.0)[None, :] * np.array([[0.3], [0.8]])], -1)
    return CenterOutReach(kin, t, directions=[0.0, 180.0], cue=(1, 3), delay=(2, 4), reaction=2)


@pytest.mark.parametrize(
    "activation, options, loss_kind",
    [
        ("tanh", {}, "ce"),
        ("tanh", {"activity_l2": 0.3}, "ce"),
        ("tanh", {"dale": True, "connectivity": 0.6}, "ce"),
        ("tanh", {"activity_l2": 0.1}, "mse"),
        ("retanh", {}, "ce"),
        ("relu", {}, "mse"),
    ],
)
def test_exact_hvp_equals_finite_differences_all_parameters(activation, options, loss_kind):
    # forward-over-reverse vs central differences of the trainer's exact gradients, every parameter
    # (W_in, W_rec, b, W_out, b_out, v0), both losses, activity penalty, Dale + sparse connectivity;
    # tiny networks, so no voltage sits within the FD step of a kink
    task = _center_out_tiny() if loss_kind == "mse" else PerceptualDecision(fixation=(3, 5), stimulus=(6, 10),
                                                                           decision=6)
    model = LeakyRNN(task.n_in, 5, task.n_out, activation=activation, g0=1.2, seed=3, **options)
    rng = np.random.default_rng(5)
    model.params["v0"] = 0.5 * rng.normal(size=5)
    model.params["b"] = 0.3 * rng.normal(size=5)
    batch = task.batch(6, np.random.default_rng(0))
    assert batch.loss == loss_kind
    names = tuple(model.params)
    v = {n: rng.normal(size=a.shape) for n, a in model.params.items()}
    exact = hessian_vector_product(model, batch, v, params=names)
    fd = hessian_vector_product(model, batch, v, params=names, hvp="fd", eps=1e-6)
    scale = max(np.abs(fd[n]).max() for n in names)
    for n in names:
        np.testing.assert_allclose(exact[n], fd[n], atol=1e-8 * scale, err_msg=n)


def test_one_operator_reuses_its_forward_and_backward_passes_exactly():
    """An eigen-solver takes many products at one point; the operator computes the forward and
    backward passes there once. Its products equal fresh single products bit for bit, in any order."""
    from neurosim.rnn.analysis.curvature import _Hessian

    task = PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)
    model = LeakyRNN(task.n_in, 9, task.n_out, seed=4, dale=True, activity_l2=0.05)
    batch = task.batch(8, np.random.default_rng(0))
    names = tuple(model.params)
    op = _Hessian(model, batch, names, 1e-5, "exact", 0.01)
    rng = np.random.default_rng(1)
    vs = [rng.normal(size=op.dim) for _ in range(3)]
    shared = [op(v) for v in vs] + [op(vs[0])]
    fresh = [hessian_vector_product(model, batch, v, params=names, weight_decay=0.01) for v in vs + vs[:1]]
    for got, ref in zip(shared, fresh):
        assert np.array_equal(got, ref)
    assert op.n_products == 4


def test_exact_hvp_is_immune_to_kinks_where_fd_is_not():
    # retanh: the loss is piecewise smooth. On a larger batch many voltages sit near 0, the FD
    # product depends on its step, the exact one has no step at all
    task = PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)
    model = LeakyRNN(task.n_in, 12, task.n_out, g0=1.5, seed=2)
    batch = task.batch(64, np.random.default_rng(1))
    v = np.random.default_rng(2).normal(size=144)
    exact = hessian_vector_product(model, batch, v)
    fd = [hessian_vector_product(model, batch, v, hvp="fd", eps=e) for e in (1e-3, 1e-4)]
    assert np.linalg.norm(fd[0] - fd[1]) > 1e-3 * np.linalg.norm(exact)   # kinks spoil FD here
    # the exact product is the FD limit once the step is below every kink crossing
    assert np.linalg.norm(hessian_vector_product(model, batch, v, hvp="fd", eps=1e-9) - exact) \
        <= 1e-4 * np.linalg.norm(exact)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(params=("W_recc",)), ValueError, "Did you mean 'W_rec'"),
        (dict(params=()), ValueError, "params is empty"),
        (dict(params=("W_rec", "W_rec")), ValueError, "twice"),
        (dict(eps=0.0, hvp="fd"), ValueError, "eps must be in"),
        (dict(hvp="exakt"), ValueError, "Did you mean 'exact'"),
        (dict(v=np.ones(7)), ValueError, "flat vector of length 25"),
        (dict(v={"W_rec": np.ones((4, 4))}), ValueError, "has shape"),
        (dict(v=np.full(25, np.nan)), ValueError, "NaN"),
    ],
)
def test_hvp_rejects_bad_input(tiny, kwargs, exc, msg):
    model, batch = tiny
    args = dict(v=np.ones(25)) | kwargs
    with pytest.raises(exc, match=msg):
        hessian_vector_product(model, batch, **args)


def test_nan_weights_are_named(tiny):
    model, batch = tiny
    bad = model.copy()
    bad.params["W_rec"][0, 0] = np.nan
    with pytest.raises(ValueError, match="W_rec"):
        hessian_top_eigenvalues(bad, batch)
    with pytest.raises(ValueError, match="max_dim"):
        dense_hessian(model, batch, max_dim=10)


# ---------------------------------------------------------------- along training
def test_curvature_along_training_matches_direct_calls():
    from neurosim.rnn import train
    from neurosim.rnn.analysis.curvature import curvature_along_training

    task = PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)
    run = train(LeakyRNN(task.n_in, 5, task.n_out, activation="tanh", seed=0), task, rule="eprop",
                steps=6, lr=1e-2, batch_size=4, seed=0, checkpoints=[0, 3, 6], progress=False)
    batch = task.batch(5, np.random.default_rng(9))
    table = curvature_along_training(run, batch, k=2, trace_samples=4, steps=[0, 6])
    assert list(table.columns[:4]) == list(run.checkpoints.columns)       # a copy, columns added
    assert "lambda_max" not in run.checkpoints.columns
    for step in (0, 6):
        row = table.set_index("step").loc[step]
        direct = hessian_top_eigenvalues(run.model(step), batch, k=2)
        np.testing.assert_allclose([row["lambda_max"], row["lambda_2"]], direct, rtol=1e-12)
        tr = hessian_trace(run.model(step), batch, n_samples=4)
        assert row["hessian_trace"] == pytest.approx(tr.value, rel=1e-12)
    assert np.isnan(table.set_index("step").loc[3, "lambda_max"])        # not requested
    assert table.attrs["curvature"]["params"] == ["W_rec"]
    with pytest.raises(ValueError, match="not checkpoints"):
        curvature_along_training(run, batch, steps=[5])
    with pytest.raises(TypeError, match="checkpoints DataFrame"):
        curvature_along_training(object(), batch)


def test_default_step_error_against_richardson_reference(tiny):
    # documented accuracy of the default step: ~1e-9 relative on a smooth (tanh) network, measured
    # against a Richardson-extrapolated O(h^4) reference built from two much larger steps
    model, batch = tiny
    ref = (4 * dense_hessian(model, batch, hvp="fd", eps=1e-3) - dense_hessian(model, batch, hvp="fd", eps=2e-3)) / 3
    err = np.abs(dense_hessian(model, batch, hvp="fd") - ref).max() / np.abs(ref).max()
    assert err < 1e-8
    # and the exact (forward-over-reverse) Hessian agrees with the same reference
    assert np.abs(dense_hessian(model, batch) - ref).max() / np.abs(ref).max() < 1e-8


def test_absent_connections_have_zero_curvature():
    # sparse connectivity: the loss does not depend on masked-out W_rec entries, so their rows and
    # columns of the Hessian vanish, and the top eigenvalue equals that of the present-entry block
    task = PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)
    model = LeakyRNN(task.n_in, 5, task.n_out, activation="tanh", connectivity=0.5, seed=1)
    batch = task.batch(6, np.random.default_rng(0))
    H = dense_hessian(model, batch)
    absent = model.rec_mask.ravel() == 0
    assert absent.any() and (~absent).any()
    assert np.abs(H[absent]).max() == 0.0
    block = H[np.ix_(~absent, ~absent)]
    np.testing.assert_allclose(hessian_top_eigenvalues(model, batch, tol=1e-10),
                               np.linalg.eigvalsh(block)[-1:], rtol=1e-6)


# ---------------------------------------------------------------- curvature recorded during training
def test_curvature_recorded_in_train_equals_post_hoc_and_leaves_the_run_unchanged(tmp_path):
    from neurosim.rnn import LeakyRNN, load_run, train
    from neurosim.rnn.analysis import curvature_along_training, curvature_recorder
    from neurosim.rnn.tasks import PerceptualDecision

    task = PerceptualDecision()
    model = LeakyRNN(task.n_in, 8, task.n_out, activation="tanh", seed=3)
    kw = dict(rule="eprop", steps=6, lr=1e-2, batch_size=6, seed=1, checkpoints=[0, 2, 6], progress=False)
    plain = train(model, task, **kw)
    out = tmp_path / "run.nc"
    rec = train(model, task, out=out, record={"lambda_max": curvature_recorder(batch_size=5, seed=7)}, **kw)

    # the training random stream is untouched: same parameters as a run without recording
    for step in (0, 2, 6):
        for k, v in plain.params(step).items():
            np.testing.assert_array_equal(rec.params(step)[k], v)
    # values equal the post-hoc measurement on the same fixed batch
    post = curvature_along_training(plain, batch_size=5, seed=7)
    np.testing.assert_allclose(rec.checkpoints["lambda_max"], post["lambda_max"], rtol=1e-6)
    assert rec.checkpoints["lambda_max"].nunique() == 3  # it really changes along training
    # and it is saved with the run
    back = load_run(out)
    assert list(back.checkpoints.columns) == ["step", "loss", "accuracy", "eval_loss", "lambda_max"]
    np.testing.assert_array_equal(back.checkpoints["lambda_max"], rec.checkpoints["lambda_max"])


def test_train_record_rejects_bad_names_and_non_callables():
    from neurosim.rnn import LeakyRNN, train
    from neurosim.rnn.tasks import PerceptualDecision

    task = PerceptualDecision()
    model = LeakyRNN(task.n_in, 4, task.n_out)
    with pytest.raises(ValueError, match="clashes"):
        train(model, task, steps=1, progress=False, record={"accuracy": lambda m, t: 0.0})
    with pytest.raises(ValueError, match="identifiers"):
        train(model, task, steps=1, progress=False, record={"lambda max": lambda m, t: 0.0})
    with pytest.raises(TypeError, match="callable"):
        train(model, task, steps=1, progress=False, record={"lam": 3.0})
