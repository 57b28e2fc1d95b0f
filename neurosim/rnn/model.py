"""The voltage-form leaky RNN (Liu, Yang & Cueva 2025) and its loss.

Equations (batch ``B``, time ``T``, units ``N``, inputs ``I``, outputs ``O``; ``a = dt/tau``)::

    v_{-1} = v0,                    r_{-1} = phi(v0)
    v_t = (1 - a) v_{t-1} + a (W_rec r_{t-1} + W_in x_t + b) + sqrt(2a) sigma xi_t
    r_t = phi(v_t)
    y_t = W_out r_t + b_out

``phi`` is ``retanh`` (``max(tanh v, 0)``, default), ``tanh`` or ``relu``. The recurrent weight
actually used, ``W_eff``, equals ``params["W_rec"]`` unless Dale's law or sparse connectivity is on
(see :meth:`LeakyRNN.effective_recurrent`).

The loss every learning rule descends (:func:`loss`)::

    E = task_loss(y, targets, mask) + lambda_r * mean_{b,t,n}(r_t^2)

with ``task_loss`` the masked mean squared error ``sum(m (y - y*)^2) / sum(m)`` (``"mse"``) or the
masked cross-entropy ``-sum_t m_t sum_o y*_o log softmax(y_t)_o / sum_t m_t`` (``"ce"``).
"""

from __future__ import annotations

import copy as _copy
import difflib
import io
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neurosim.metrics._validate import check_count, check_flag, check_number

PARAM_NAMES = ("W_in", "W_rec", "b", "W_out", "b_out", "v0")
ACTIVATIONS = ("retanh", "tanh", "relu")
READOUT_INITS = ("normal", "torch")
LOSSES = ("mse", "ce")
#: Floating-point types the forward pass and the BPTT / e-prop kernels compute in (see :func:`check_dtype`).
DTYPES = ("float64", "float32")


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"choose one of {sorted(options)}.{hint}"


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a numpy dtype, which must be float64 or float32 (what the kernels compute in).

    float32 halves the cost of the per-step products of a training run; parameters, optimizer
    state and gradients handed to the optimizer stay float64 (see :func:`neurosim.rnn.train`).

    Examples
    --------
    >>> check_dtype("float32"), check_dtype(None)
    (dtype('float32'), dtype('float64'))
    """
    if dtype is None:
        return np.dtype(np.float64)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}")
    return dt


def phi(v: np.ndarray, activation: str) -> np.ndarray:
    """Apply the activation ``phi`` to voltages ``v``.

    Examples
    --------
    >>> phi(np.array([-1.0, 0.5]), "retanh").round(4).tolist()
    [0.0, 0.4621]
    """
    if activation == "retanh":
        return np.maximum(np.tanh(v), 0.0)
    if activation == "tanh":
        return np.tanh(v)
    if activation == "relu":
        return np.maximum(v, 0.0)
    raise ValueError(f"unknown activation {activation!r}: " + _did_you_mean(activation, ACTIVATIONS))


def phi_into(v: np.ndarray, out: np.ndarray, activation: str) -> np.ndarray:
    """``out[...] = phi(v)`` without temporaries (hot loops)."""
    if activation == "retanh":
        np.tanh(v, out=out)
        np.maximum(out, 0.0, out=out)
    elif activation == "tanh":
        np.tanh(v, out=out)
    else:
        np.maximum(v, 0.0, out=out)
    return out


def phi_prime(v: np.ndarray, r: np.ndarray, activation: str) -> np.ndarray:
    """Derivative ``phi'(v)`` given ``v`` and ``r = phi(v)`` (the kink at 0 gets derivative 0).

    Examples
    --------
    >>> v = np.array([-1.0, 0.5]); phi_prime(v, phi(v, "tanh"), "tanh").round(4).tolist()
    [0.42, 0.7864]
    """
    if activation in ("retanh", "tanh"):
        out = np.multiply(r, r)
        np.subtract(1.0, out, out=out)
        if activation == "retanh":
            out *= v > 0
        return out
    if activation == "relu":
        return (v > 0).astype(v.dtype)
    raise ValueError(f"unknown activation {activation!r}: " + _did_you_mean(activation, ACTIVATIONS))


@dataclass
class Batch:
    """A batch of trials: ``inputs`` (B, T, I), ``targets`` (B, T, O), ``mask`` (B, T, O) or (B, T).

    ``loss`` names the task loss (``"mse"`` or ``"ce"``; for ``"ce"`` the targets are one-hot or
    soft class probabilities over the O outputs). ``time`` (T,) is the time of each step in ms on the
    task's reference axis, ``conditions`` a :class:`pandas.Index` of condition labels for
    evaluation batches, ``info`` per-trial extras (e.g. epoch boundaries used by ``accuracy``).

    Examples
    --------
    >>> b = Batch(np.zeros((2, 5, 3)), np.zeros((2, 5, 1)), np.ones((2, 5)))
    >>> b.inputs.shape, b.mask_full.shape
    ((2, 5, 3), (2, 5, 1))
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    loss: str = "mse"
    time: np.ndarray | None = None
    conditions: Any = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.inputs = np.asarray(self.inputs, dtype=np.float64)
        self.targets = np.asarray(self.targets, dtype=np.float64)
        self.mask = np.asarray(self.mask, dtype=np.float64)
        if self.inputs.ndim != 3 or self.targets.ndim != 3:
            raise ValueError(
                f"inputs and targets must be (batch, time, features); got inputs {self.inputs.shape}, "
                f"targets {self.targets.shape}"
            )
        if self.inputs.shape[:2] != self.targets.shape[:2]:
            raise ValueError(
                f"inputs {self.inputs.shape} and targets {self.targets.shape} disagree on (batch, time)"
            )
        if self.mask.shape not in (self.targets.shape, self.targets.shape[:2]):
            raise ValueError(
                f"mask must have shape {self.targets.shape} or {self.targets.shape[:2]}; got {self.mask.shape}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: " + _did_you_mean(self.loss, LOSSES))
        for name in ("inputs", "targets", "mask"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"batch {name} contain NaN or inf; clean the task output")
        if np.any(self.mask < 0) or not np.any(self.mask > 0):
            raise ValueError("mask must be non-negative with at least one positive entry")

    @property
    def mask_full(self) -> np.ndarray:
        """The mask broadcast to the targets' shape (B, T, O)."""
        if self.mask.ndim == 3:
            return self.mask
        return np.broadcast_to(self.mask[..., None], self.targets.shape)

    def __len__(self) -> int:
        return self.inputs.shape[0]


@dataclass
class Forward:
    """Result of a forward pass.

    ``v_tm``, ``r_tm`` are voltages and rates stored time-major (T, B, N) (contiguous per step, what
    the rules use); :attr:`v` and :attr:`r` are (B, T, N) views. ``y`` is (B, T, O); ``v_init`` and
    ``r_init`` (B, N) are ``v0`` broadcast and ``phi(v0)``.
    """

    v_tm: np.ndarray
    r_tm: np.ndarray
    y: np.ndarray
    v_init: np.ndarray
    r_init: np.ndarray

    @property
    def v(self) -> np.ndarray:
        return self.v_tm.swapaxes(0, 1)

    @property
    def r(self) -> np.ndarray:
        return self.r_tm.swapaxes(0, 1)


class LeakyRNN:
    """Voltage-form continuous-time RNN with a learned initial state.

    Parameters
    ----------
    n_in, n_rec, n_out : int
        Numbers of inputs ``I``, recurrent units ``N`` and outputs ``O``.
    tau : float
        Time constant in steps (``a = dt / tau``; default 10 steps, i.e. 100 ms at dt = 10 ms).
    dt : float
        Step in the same unit as ``tau`` (default 1.0, so ``tau`` is in steps).
    activation : {"retanh", "tanh", "relu"}
    g0 : float
        Gain of the recurrent initialization: ``W_rec ~ N(0, (1.5 g0)^2 / N)``.
    seed : int
        Seed of the initialization.
    dale : bool
        Dale's law: a fraction ``exc_fraction`` of units is excitatory, the rest inhibitory; the
        effective weight is ``W_eff = |W_rec| * sign_j`` (column j = presynaptic unit).
    exc_fraction : float
        Fraction of excitatory units under Dale's law (default 0.8).
    connectivity : float
        Fraction of recurrent connections present (fixed random mask); 1.0 = dense.
    noise_std : float
        Standard deviation ``sigma`` of the voltage noise ``sqrt(2a) sigma xi_t`` (0 = no noise). The
        noise samples are passed explicitly to the forward pass / rules, so losses stay deterministic.
    activity_l2 : float
        ``lambda_r``, weight of the activity penalty ``mean(r^2)`` in :func:`loss` (the trainer
        can adapt it along training: ``train(..., activity_l2_schedule="adaptive")``).
    readout_init : {"normal", "torch"}
        Initialization of the readout. ``"normal"``: ``W_out ~ N(0, 1/N)``, ``b_out = 0``.
        ``"torch"``: the paper's readout, PyTorch's default weight of ``nn.Linear(N, O)``,
        ``W_out ~ U(-1/sqrt(N), 1/sqrt(N))`` (a third of the normal init's variance), and
        ``b_out = 0`` (the paper's code overrides PyTorch's bias with zeros; its released initial
        checkpoint has ``b_out = 0``).

    Notes
    -----
    Initialization: ``W_in ~ N(0, 1/I)``, ``W_rec ~ N(0, (1.5 g0)^2/N)``, ``b = v0 = 0`` as in
    Liu, Yang & Cueva (2025), whose code draws the same; the readout follows ``readout_init``
    (the paper's is ``"torch"``; ``"normal"`` is kept as the default for reproducibility of
    earlier runs). Draw order from ``default_rng(seed)``: ``W_in``, ``W_rec``, ``W_out``,
    connectivity mask, so ``W_in`` and ``W_rec`` do not depend on ``readout_init``.
    Parameters are float64 arrays in
    :attr:`params`: ``W_in`` (N, I), ``W_rec`` (N, N), ``b`` (N,), ``W_out`` (O, N), ``b_out`` (O,),
    ``v0`` (N,).

    Examples
    --------
    >>> m = LeakyRNN(3, 20, 2, seed=1)
    >>> sorted(m.params), m.params["W_rec"].shape, m.alpha
    (['W_in', 'W_out', 'W_rec', 'b', 'b_out', 'v0'], (20, 20), 0.1)
    >>> x = np.zeros((4, 7, 3)); m.run(x).y.shape
    (4, 7, 2)
    """

    def __init__(
        self,
        n_in: int,
        n_rec: int,
        n_out: int,
        *,
        tau: float = 10.0,
        dt: float = 1.0,
        activation: str = "retanh",
        g0: float = 1.0,
        seed: int = 0,
        dale: bool = False,
        exc_fraction: float = 0.8,
        connectivity: float = 1.0,
        noise_std: float = 0.0,
        activity_l2: float = 0.0,
        readout_init: str = "normal",
    ):
        for name, val in (("n_in", n_in), ("n_rec", n_rec), ("n_out", n_out)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{name} must be a positive integer; got {val!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: " + _did_you_mean(activation, ACTIVATIONS))
        for name, val in (("tau", tau), ("dt", dt), ("g0", g0), ("exc_fraction", exc_fraction),
                          ("connectivity", connectivity), ("noise_std", noise_std), ("activity_l2", activity_l2)):
            check_number(val, name)  # a real, finite number (NaN, inf, strings and booleans refused)
        check_count(seed, "seed", minimum=0)
        check_flag(dale, "dale")
        if not (np.isfinite(tau) and np.isfinite(dt) and tau > 0 and 0 < dt <= tau):
            raise ValueError(f"need 0 < dt <= tau (a = dt/tau in (0, 1]); got dt={dt}, tau={tau}")
        if not (0.0 < connectivity <= 1.0):
            raise ValueError(f"connectivity must be in (0, 1]; got {connectivity}")
        if not (0.0 < exc_fraction < 1.0):
            raise ValueError(f"exc_fraction must be in (0, 1); got {exc_fraction}")
        for name, val in (("noise_std", noise_std), ("activity_l2", activity_l2), ("g0", g0)):
            if val < 0:
                raise ValueError(f"{name} must be non-negative; got {val}")
        if readout_init not in READOUT_INITS:
            raise ValueError(f"unknown readout_init {readout_init!r}: " + _did_you_mean(readout_init, READOUT_INITS))
        self.n_in, self.n_rec, self.n_out = int(n_in), int(n_rec), int(n_out)
        self.tau, self.dt = float(tau), float(dt)
        self.activation = activation
        self.g0 = float(g0)
        self.seed = int(seed)
        self.dale = bool(dale)
        self.exc_fraction = float(exc_fraction)
        self.connectivity = float(connectivity)
        self.noise_std = float(noise_std)
        self.activity_l2 = float(activity_l2)
        self.readout_init = readout_init

        rng = np.random.default_rng(seed)
        N, I, O = self.n_rec, self.n_in, self.n_out
        W_in = rng.normal(0.0, 1.0 / np.sqrt(I), size=(N, I))
        W_rec = rng.normal(0.0, 1.5 * self.g0 / np.sqrt(N), size=(N, N))
        if readout_init == "torch":
            bound = 1.0 / np.sqrt(N)
            W_out = rng.uniform(-bound, bound, size=(O, N))
        else:
            W_out = rng.normal(0.0, 1.0 / np.sqrt(N), size=(O, N))
        b_out = np.zeros(O)
        self.rec_mask = None
        if self.connectivity < 1.0:
            self.rec_mask = (rng.random((N, N)) < self.connectivity).astype(np.float64)
            W_rec = W_rec / np.sqrt(self.connectivity)
        self.dale_sign = None
        if self.dale:
            n_exc = int(round(self.exc_fraction * N))
            self.dale_sign = np.where(np.arange(N) < n_exc, 1.0, -1.0)
            W_rec = np.abs(W_rec)
            # balance: scale inhibitory columns so that the expected input sums to zero
            W_rec[:, n_exc:] *= n_exc / max(N - n_exc, 1)
        self.params: dict[str, np.ndarray] = {
            "W_in": W_in,
            "W_rec": W_rec,
            "b": np.zeros(N),
            "W_out": W_out,
            "b_out": b_out,
            "v0": np.zeros(N),
        }

    # ------------------------------------------------------------------ basics
    @property
    def alpha(self) -> float:
        """``a = dt / tau``."""
        return self.dt / self.tau

    @property
    def config(self) -> dict:
        """Constructor arguments (JSON-able), enough to rebuild the architecture."""
        return {
            "n_in": self.n_in, "n_rec": self.n_rec, "n_out": self.n_out, "tau": self.tau,
            "dt": self.dt, "activation": self.activation, "g0": self.g0, "seed": self.seed,
            "dale": self.dale, "exc_fraction": self.exc_fraction,
            "connectivity": self.connectivity, "noise_std": self.noise_std,
            "activity_l2": self.activity_l2, "readout_init": self.readout_init,
        }

    def copy(self) -> "LeakyRNN":
        """Deep copy (parameters included)."""
        return _copy.deepcopy(self)

    def __repr__(self) -> str:
        return (f"LeakyRNN(n_in={self.n_in}, n_rec={self.n_rec}, n_out={self.n_out}, tau={self.tau}, "
                f"activation={self.activation!r}, g0={self.g0})")

    def check_params(self, params: Mapping[str, np.ndarray] | None = None, dtype=np.float64) -> dict:
        """Validate a parameter dict (names, shapes, finiteness) and return it as ``dtype`` arrays (float64)."""
        params = self.params if params is None else params
        missing = [k for k in PARAM_NAMES if k not in params]
        if missing:
            raise ValueError(f"params lack {missing}; expected keys {list(PARAM_NAMES)}")
        shapes = self.param_shapes()
        out = {}
        for k in PARAM_NAMES:
            p = np.asarray(params[k], dtype=dtype)
            if p.shape != shapes[k]:
                raise ValueError(f"params[{k!r}] has shape {p.shape}; this model needs {shapes[k]}")
            if not np.all(np.isfinite(p)):
                raise ValueError(f"params[{k!r}] contains NaN or inf (diverged training?)")
            out[k] = p
        return out

    def param_shapes(self) -> dict:
        N, I, O = self.n_rec, self.n_in, self.n_out
        return {"W_in": (N, I), "W_rec": (N, N), "b": (N,), "W_out": (O, N), "b_out": (O,), "v0": (N,)}

    def effective_recurrent(self, W_rec: np.ndarray) -> np.ndarray:
        """``W_eff = (|W| * sign_j if Dale else W) * mask`` — the weight the dynamics use, in ``W_rec``'s
        floating-point type (a float32 pass stays float32: a float64 weight would make every
        per-step product a slow mixed-type one)."""
        W = W_rec
        single = getattr(W, "dtype", None) == np.float32
        if self.dale_sign is not None:
            W = np.abs(W) * (self.dale_sign.astype(np.float32) if single else self.dale_sign)[None, :]
        if self.rec_mask is not None:
            W = W * (self.rec_mask.astype(np.float32) if single else self.rec_mask)
        return W

    def recurrent_grad_to_param(self, dW_eff: np.ndarray, W_rec: np.ndarray) -> np.ndarray:
        """Chain rule from ``dE/dW_eff`` to ``dE/dparams["W_rec"]`` (identity when dense, no Dale)."""
        g = dW_eff
        if self.rec_mask is not None:
            g = g * self.rec_mask
        if self.dale_sign is not None:
            g = g * self.dale_sign[None, :] * np.sign(W_rec)
        return g

    def _check_inputs(self, inputs: np.ndarray, dtype=np.float64) -> np.ndarray:
        x = np.asarray(inputs, dtype=dtype)
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"inputs must be (batch, time, {self.n_in}); got shape {x.shape}")
        return x

    def _check_batch(self, batch, dtype=np.float64) -> np.ndarray:
        """The batch's inputs as ``dtype`` (B, T, n_in), after checking its targets are (B, T, n_out)."""
        x = self._check_inputs(batch.inputs, dtype)
        B, T, _ = x.shape
        if batch.targets.shape != (B, T, self.n_out):
            raise ValueError(f"targets {batch.targets.shape} do not match outputs {(B, T, self.n_out)}; check n_out")
        return x

    def _check_noise(self, noise, shape, dtype=np.float64) -> np.ndarray | None:
        if noise is None:
            return None
        noise = np.asarray(noise, dtype=dtype)
        if noise.shape != shape:
            raise ValueError(f"noise must have shape (batch, time, n_rec) = {shape}; got {noise.shape}")
        if not np.isfinite(noise).all():
            raise ValueError("noise contains NaN or inf values; pass finite noise (or noise=None for none)")
        return noise

    # ------------------------------------------------------------------ dynamics
    def run(self, inputs: np.ndarray, *, params: Mapping | None = None, noise: np.ndarray | None = None,
            dtype=np.float64) -> Forward:
        """Forward pass over a batch.

        Parameters
        ----------
        inputs : array (B, T, I)
        params : dict, optional
            Parameters to use instead of :attr:`params`.
        noise : array (B, T, N), optional
            Standard-normal samples ``xi_t``; the voltage gets ``sqrt(2a) * noise_std * xi_t``.
        dtype : {"float64", "float32"}
            Floating-point type of the computation and of the arrays returned (default float64).

        Returns
        -------
        Forward
            ``v``, ``r`` (B, T, N), ``y`` (B, T, O), initial ``v_init``, ``r_init`` (B, N).
        """
        dtype = check_dtype(dtype)
        p = self.check_params(params, dtype)
        x = self._check_inputs(inputs, dtype)
        B, T, _ = x.shape
        N = self.n_rec
        a = self.alpha
        act = self.activation
        if T < 1 or B < 1:
            raise ValueError(f"inputs need at least one trial and one time step; got shape {x.shape}")
        W_scaled = a * np.ascontiguousarray(self.effective_recurrent(p["W_rec"]).T)
        # a (W_in x_t + b) for all steps at once (one BLAS call), time-major (T, B, N)
        drive = np.matmul(x.transpose(1, 0, 2), a * p["W_in"].T)
        drive += a * p["b"]
        noise = self._check_noise(noise, (B, T, N), dtype)
        if noise is not None and self.noise_std > 0:
            drive += (np.sqrt(2 * a) * self.noise_std) * noise.transpose(1, 0, 2)
        v = drive  # overwritten in place, step by step
        r = np.empty((T, B, N), dtype)
        v_prev = np.broadcast_to(p["v0"], (B, N)).copy()
        r_prev = phi(v_prev, act)
        v_init, r_init = v_prev, r_prev
        tmp = np.empty((B, N), dtype)
        for t in range(T):
            vt = v[t]
            np.matmul(r_prev, W_scaled, out=tmp)
            vt += tmp
            np.multiply(v_prev, 1.0 - a, out=tmp)
            vt += tmp
            phi_into(vt, r[t], act)
            v_prev, r_prev = vt, r[t]
        y = np.matmul(r, p["W_out"].T)
        y += p["b_out"]
        return Forward(v_tm=v, r_tm=r, y=y.transpose(1, 0, 2), v_init=v_init, r_init=r_init)

    def __call__(self, inputs, **kw) -> np.ndarray:
        """Outputs ``y`` (B, T, O) for ``inputs`` (B, T, I)."""
        return self.run(inputs, **kw).y


# ---------------------------------------------------------------------- loss
def _softmax(y: np.ndarray) -> np.ndarray:
    z = y - y.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def mask_total(batch: Batch) -> float:
    """Normalizer of the task loss: ``sum(mask)`` over (B, T, O) for MSE, over (B, T) for CE."""
    if batch.loss == "mse":
        return float(batch.mask_full.sum())
    return float(_class_mask(batch.mask).sum())


def _class_mask(mask: np.ndarray) -> np.ndarray:
    return mask if mask.ndim == 2 else mask[..., 0]


def error_terms(y: np.ndarray, targets: np.ndarray, mask: np.ndarray, kind: str, msum: float):
    """Un-normalized pieces of the task loss on any slice of a batch.

    ``y``, ``targets`` (..., O); ``mask`` (..., O) for ``"mse"`` and (...) for ``"ce"``. Returns the
    slice's loss contribution and ``dE/dy`` for it, both already divided by ``msum``.
    """
    if kind == "mse":
        diff = y - targets
        md = mask * diff
        return float(np.sum(md * diff)) / msum, md * (2.0 / msum)
    live = mask != 0
    if not live.all():  # masked-out steps add exactly zero loss and error: skip them (a last-step readout)
        e = np.zeros_like(y)
        if not live.any():
            return 0.0, e
        E, e[live] = error_terms(y[live], targets[live], mask[live], kind, msum)
        return E, e
    z = y - y.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    w = mask[..., None] / msum
    E = float(-np.sum(w * targets * logp))
    e = (np.exp(logp) * targets.sum(-1, keepdims=True) - targets) * w
    return E, e


def output_error(y: np.ndarray, batch: Batch) -> tuple[float, np.ndarray]:
    """Task loss and its derivative ``e_t = dE/dy_t`` (B, T, O) for outputs ``y``.

    ``"mse"``: ``E = sum(m (y - y*)^2) / sum(m)``, ``e = 2 m (y - y*) / sum(m)``.
    ``"ce"``: ``E = -sum_t m_t sum_o y*_o log softmax(y_t)_o / sum_t m_t``,
    ``e = m_t (softmax(y_t) * sum_o y*_o - y*_t) / sum_t m_t`` (mask (B, T) or its first column).

    Examples
    --------
    >>> b = Batch(np.zeros((1, 2, 1)), np.ones((1, 2, 1)), np.ones((1, 2)))
    >>> E, e = output_error(np.zeros((1, 2, 1)), b); E, e.ravel().tolist()
    (1.0, [-1.0, -1.0])
    """
    if y.shape != batch.targets.shape:
        raise ValueError(f"outputs {y.shape} and targets {batch.targets.shape} differ; check n_out")
    mask = batch.mask_full if batch.loss == "mse" else _class_mask(batch.mask)
    dt = y.dtype
    return error_terms(y, batch.targets.astype(dt, copy=False), mask.astype(dt, copy=False), batch.loss,
                       mask_total(batch))


def loss(model: LeakyRNN, batch: Batch, *, params: Mapping | None = None, noise: np.ndarray | None = None) -> float:
    """The loss every learning rule descends.

    ``E = task_loss(y, y*, m) + model.activity_l2 * mean_{b,t,n}(r_t^2)`` where ``task_loss`` is
    ``batch.loss`` (masked MSE or cross-entropy; see :func:`output_error`).

    Parameters
    ----------
    model : LeakyRNN
    batch : Batch
    params : dict, optional
        Override of ``model.params`` (e.g. for finite differences or Hessian-vector products).
    noise : array (B, T, N), optional
        The voltage-noise samples used for this batch (see :meth:`LeakyRNN.run`).

    Returns
    -------
    float

    Examples
    --------
    >>> m = LeakyRNN(2, 8, 1, seed=0)
    >>> b = Batch(np.ones((3, 5, 2)), np.zeros((3, 5, 1)), np.ones((3, 5)))
    >>> E = loss(m, b); bool(np.isclose(E, np.mean(m(b.inputs) ** 2)))
    True
    """
    return forward_loss(model, model.run(batch.inputs, params=params, noise=noise), batch)


def forward_loss(model: LeakyRNN, fw: Forward, batch: Batch) -> float:
    """:func:`loss` of a forward pass ``fw = model.run(batch.inputs, ...)`` already computed (so a
    caller that also needs the outputs runs the network once).

    >>> m = LeakyRNN(2, 8, 1, seed=0, activity_l2=0.1)
    >>> b = Batch(np.ones((3, 5, 2)), np.zeros((3, 5, 1)), np.ones((3, 5)))
    >>> forward_loss(m, m.run(b.inputs), b) == loss(m, b)
    True
    """
    E, _ = output_error(fw.y, batch)
    if model.activity_l2 > 0:
        E += model.activity_l2 * float(np.mean(fw.r * fw.r))
    return E


# ---------------------------------------------------------------------- PyTorch checkpoints
#: Globals a PyTorch state-dict pickle may name; everything else is refused.
TORCH_PICKLE_GLOBALS = (("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                        ("torch", "FloatStorage"))
#: The CTRNN layout of Liu, Yang & Cueva (2025): tensor name -> neurosim parameter.
TORCH_PARAM_NAMES = {"fc_x2ah.weight": "W_in", "fc_x2ah.bias": "b", "fc_h2ah.weight": "W_rec",
                     "fc_h2y.weight": "W_out", "fc_h2y.bias": "b_out", "ah0": "v0"}
#: Largest archive member read (decompressed bytes): the pickle and each tensor storage. The paper's
#: checkpoints hold 160 kB; this admits networks of ~8000 units and refuses zip bombs before inflating.
TORCH_MAX_MEMBER_BYTES = 256 * 2**20
#: Largest pickle (``data.pkl``) read, in bytes.
TORCH_MAX_PICKLE_BYTES = 4 * 2**20
_STORAGE_KEY = re.compile(r"^[0-9A-Za-z_]{1,64}$")


class CheckpointError(ValueError, pickle.UnpicklingError):
    """A ``.pth`` file that is not a plain float32 state dict this reader can trust.

    A :class:`ValueError` (and a :class:`pickle.UnpicklingError`): raised before any tensor data
    is viewed, for a refused global, a malformed storage, tensor geometry outside its storage, an
    oversized member or anything else unexpected.
    """


class _FloatStorage:
    """Stand-in for ``torch.FloatStorage``: only used as a marker in persistent ids."""


class _StateDict(dict):
    """Stand-in for ``collections.OrderedDict``: a plain dict that takes only PyTorch's ``_metadata``
    attribute (a pickle that sets anything else, such as ``__class__``, is refused)."""

    def __setstate__(self, state):
        if not isinstance(state, dict) or set(state) - {"_metadata"}:
            raise CheckpointError("a state-dict entry sets attributes other than _metadata "
                                  f"({sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__})")
        self._metadata = state.get("_metadata")


@dataclass(frozen=True)
class _Storage:
    key: str
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """A tensor as the pickle describes it; its data are read (and checked) after unpickling.

    Only :func:`_rebuild_tensor` makes these: a pickle cannot name this class.
    """

    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _int(value, what: str) -> int:
    if type(value) is not int:  # noqa: E721 - bools and other number types are refused too
        raise CheckpointError(f"{what} must be an int; got {type(value).__name__} {value!r:.40}")
    return value


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """Record a tensor's storage, offset, shape and strides after checking their types."""
    if not isinstance(storage, _Storage):
        raise CheckpointError("tensor without a FloatStorage; not a float32 CPU state dict")
    if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride):
        raise CheckpointError(f"tensor shape {size!r:.60} and strides {stride!r:.60} must be tuples of one length")
    if len(size) > 8:
        raise CheckpointError(f"tensor of {len(size)} dimensions; a state dict's have at most 8")
    return _TensorRef(storage, _int(offset, "a tensor offset"), tuple(_int(v, "a tensor dimension") for v in size),
                      tuple(_int(v, "a tensor stride") for v in stride))


class _TorchUnpickler(pickle.Unpickler):
    """Admits only :data:`TORCH_PICKLE_GLOBALS` and float32 storages; refuses anything else."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return _StateDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch", "FloatStorage"):
            return _FloatStorage
        raise CheckpointError(
            f"refusing to load global '{module}.{name}' from a PyTorch checkpoint: only "
            + ", ".join(f"{m}.{n}" for m, n in TORCH_PICKLE_GLOBALS) + " are allowed (a float32 state dict)")

    def persistent_load(self, pid):
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage" or pid[1] is not _FloatStorage
                or not isinstance(pid[3], str) or not pid[3].startswith("cpu")):
            raise CheckpointError(f"unsupported storage {pid!r:.120}: only float32 CPU storages are read")
        key, numel = pid[2], _int(pid[4], "a storage size")
        if not isinstance(key, str) or not _STORAGE_KEY.match(key):
            raise CheckpointError(f"storage key {key!r:.80} is not a plain name (letters, digits, _)")
        if not 0 <= numel <= TORCH_MAX_MEMBER_BYTES // 4:
            raise CheckpointError(f"storage {key} claims {numel} floats; at most {TORCH_MAX_MEMBER_BYTES // 4} "
                                  "are read")
        return _Storage(key, numel)


def _member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """An archive member's bytes, refusing one that is missing or inflates beyond ``limit``."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"the archive has no member {name!r}") from None
    if info.file_size > limit:
        raise CheckpointError(f"member {name!r} inflates to {info.file_size:,} bytes; at most {limit:,} are read")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)  # the size in the directory is what zipfile stops at; never trust more
    if len(data) > limit:
        raise CheckpointError(f"member {name!r} inflates beyond {limit:,} bytes")
    return data


def _tensor_array(raw: np.ndarray, ref: _TensorRef) -> np.ndarray:
    """The float64 copy of a tensor, after checking its geometry against the storage's floats."""
    size, stride, offset = ref.size, ref.stride, ref.offset
    if any(n < 0 for n in size):
        raise CheckpointError(f"tensor shape {size} has a negative dimension")
    if any(s < 0 for s in stride):
        raise CheckpointError(f"tensor strides {stride} include a negative stride")
    if not 0 <= offset <= raw.size:
        raise CheckpointError(f"tensor offset {offset} lies outside its storage of {raw.size} floats")
    count = 1
    for n in size:
        count *= n
    if count == 0:
        return np.zeros(size, dtype=np.float64)
    if count > raw.size:  # a state dict's tensors view each stored float at most once
        raise CheckpointError(f"tensor of shape {size} ({count} values) is larger than its storage "
                              f"({raw.size} floats)")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= raw.size:
        raise CheckpointError(f"tensor of shape {size}, strides {stride}, offset {offset} reads float {last} of a "
                              f"storage of {raw.size}")
    view = np.lib.stride_tricks.as_strided(raw[offset:], shape=size, strides=tuple(4 * s for s in stride),
                                           writeable=False)
    return np.array(view, dtype=np.float64)


def read_torch_state_dict(path) -> tuple[dict, dict]:
    """Read a PyTorch ``.pth`` zip archive's tensors without torch.

    Returns ``(tensors, extras)``: ``tensors`` maps the ``model_state_dict`` names to float64
    arrays; ``extras`` holds the checkpoint's other plain entries (numbers, strings). The pickle
    is read by a restricted unpickler that admits only ``collections.OrderedDict``,
    ``torch._utils._rebuild_tensor_v2`` and ``torch.FloatStorage`` and refuses any other global
    before it can run. Every tensor's shape, strides (non-negative), offset and storage size are
    checked against the storage's actual bytes before any view is made, members are read up to
    :data:`TORCH_MAX_MEMBER_BYTES` (zip bombs are refused before they inflate), and storage keys
    must be plain names.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    CheckpointError
        (a :class:`ValueError`) for anything else this reader does not trust, naming the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PyTorch checkpoint at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a zip archive; only PyTorch's zip checkpoint format "
                              "(torch >= 1.6) is read")
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_state_dict(zf)
    except CheckpointError as err:
        raise CheckpointError(f"{path} is refused: {err}") from None
    except Exception as err:  # a malformed archive or pickle: one clear error, never a deep traceback
        raise CheckpointError(f"{path} is not a readable PyTorch state dict ({type(err).__name__}: "
                              f"{str(err)[:200]})") from None


def _read_state_dict(zf: zipfile.ZipFile) -> tuple[dict, dict]:
    pkl = [n for n in zf.namelist() if n.endswith("/data.pkl")]
    if len(pkl) != 1:
        raise CheckpointError(f"the archive holds {len(pkl)} data.pkl files; expected one (a torch.save archive)")
    prefix = pkl[0][: -len("/data.pkl")]
    obj = _TorchUnpickler(io.BytesIO(_member(zf, pkl[0], TORCH_MAX_PICKLE_BYTES))).load()
    if not isinstance(obj, dict):
        raise CheckpointError(f"the pickle does not hold a dict (got {type(obj).__name__})")
    state = obj.get("model_state_dict", obj)
    if not isinstance(state, dict):
        raise CheckpointError(f"model_state_dict is a {type(state).__name__}, not a dict")
    storages: dict[str, np.ndarray] = {}
    tensors, extras = {}, {}
    for k, v in state.items():
        if isinstance(v, _TensorRef):
            key = v.storage.key
            if key not in storages:
                data = _member(zf, f"{prefix}/data/{key}", TORCH_MAX_MEMBER_BYTES)
                if len(data) != 4 * v.storage.numel:
                    raise CheckpointError(f"storage {key} holds {len(data)} bytes; the pickle says "
                                          f"{v.storage.numel} float32 values ({4 * v.storage.numel} bytes)")
                storages[key] = np.frombuffer(data, dtype="<f4")
            elif storages[key].size != v.storage.numel:
                raise CheckpointError(f"storage {key} is declared with two sizes")
            tensors[str(k)] = _tensor_array(storages[key], v)
    for k, v in obj.items():
        if k != "model_state_dict" and isinstance(v, (int, float, str, bool)):
            extras[str(k)] = v
    return tensors, extras


def load_torch_checkpoint(path, *, tau: float = 10.0, activation: str = "retanh") -> LeakyRNN:
    """Open a PyTorch checkpoint of Liu, Yang & Cueva's CTRNN as a :class:`LeakyRNN`, without torch.

    The archive's ``model_state_dict`` must hold ``fc_x2ah.weight`` (N, I) -> ``W_in``,
    ``fc_x2ah.bias`` (N,) -> ``b``, ``fc_h2ah.weight`` (N, N) -> ``W_rec`` (row = post),
    ``fc_h2y.weight`` (O, N) -> ``W_out``, ``fc_h2y.bias`` (O,) -> ``b_out`` and ``ah0`` (N,)
    -> ``v0``. Their model, ``v_t = v_{t-1} + (1/tau)(-v_{t-1} + W_rec r_{t-1} + W_in x_t + b)``,
    ``r_t = retanh(v_t)``, ``r_0 = retanh(ah0)``, is :class:`LeakyRNN` with ``a = 1/tau``.
    float32 tensors become float64 parameters. The activity-penalty weight the checkpoint stored
    (``regularization_activityL2``), if any, becomes ``activity_l2``.

    Parameters
    ----------
    path : str or Path
        A ``.pth`` file written by ``torch.save`` (zip format).
    tau : float
        Time constant in steps (the paper's ``Tau = 10``, ``dt = 1``).
    activation : {"retanh", "tanh", "relu"}

    Returns
    -------
    LeakyRNN

    Raises
    ------
    CheckpointError
        A :class:`ValueError` (and :class:`pickle.UnpicklingError`) if the pickle names any global
        besides ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and
        ``torch.FloatStorage`` (it is never called), or the archive is malformed or crafted
        (see :func:`read_torch_state_dict`).
    ValueError
        If tensors are missing or their shapes do not fit one network.

    Examples
    --------
    >>> m = load_torch_checkpoint("bptt_lr3e-4_update1000.pth")  # doctest: +SKIP
    >>> m.n_rec, m.params["W_rec"].dtype  # doctest: +SKIP
    (200, dtype('float64'))
    """
    tensors, extras = read_torch_state_dict(path)
    missing = [k for k in TORCH_PARAM_NAMES if k not in tensors]
    if missing:
        raise ValueError(f"{path} lacks tensors {missing}; expected the CTRNN layout {sorted(TORCH_PARAM_NAMES)}")
    p = {TORCH_PARAM_NAMES[k]: tensors[k] for k in TORCH_PARAM_NAMES}
    if p["W_in"].ndim != 2 or p["W_out"].ndim != 2:
        raise ValueError(f"{path}: fc_x2ah.weight and fc_h2y.weight must be matrices")
    N, I = p["W_in"].shape
    O = p["W_out"].shape[0]
    lam = float(extras.get("regularization_activityL2", 0.0))
    model = LeakyRNN(I, N, O, tau=tau, dt=1.0, activation=activation, activity_l2=max(lam, 0.0),
                     readout_init="torch")
    model.params = model.check_params(p)
    return model
