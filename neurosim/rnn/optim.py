"""Optimizers on dicts of float64 arrays (states that can be saved and restored), and L2 weight decay.

Adam (Kingma & Ba 2015), for each parameter ``p`` with gradient ``g`` at step ``k = 1, 2, ...``::

    m <- b1 m + (1 - b1) g,     s <- b2 s + (1 - b2) g^2
    p <- p - lr * (m / (1 - b1^k)) / (sqrt(s / (1 - b2^k)) + eps)

Plain stochastic gradient descent (Liu et al. 2022's optimizer)::

    p <- p - lr * g

L2 weight decay is a term of the loss, ``(lambda / 2) sum_W ||W||_F^2`` over the chosen
parameters (:func:`weight_decay_penalty`), so its gradient ``lambda W`` is added to every rule's
gradient and its Hessian ``lambda I`` to the loss Hessian.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np

OPTIMIZERS = ("sgd", "adam")


def _check_step(lr, clip) -> None:
    """The step size and the optional clipping norm every optimizer takes."""
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number; got {lr}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None; got {clip}")


def clip_gradients(grads: dict, clip: float | None) -> dict:
    """``grads`` rescaled to global norm ``clip`` when their norm exceeds it (else unchanged).

    >>> clip_gradients({"w": np.array([3.0, 4.0])}, 1.0)["w"].tolist()
    [0.6000000000000001, 0.8]
    """
    if clip is not None:
        norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        if norm > clip:
            grads = {k: g * (clip / norm) for k, g in grads.items()}
    return grads


class Adam:
    """Adam optimizer updating a parameter dict in place.

    Parameters
    ----------
    lr : float
        Learning rate (default 3e-4, as in Liu, Yang & Cueva 2025).
    betas : (float, float)
    eps : float
    clip : float, optional
        If set, rescale the whole gradient to global norm ``clip`` when it exceeds it.

    Examples
    --------
    >>> p = {"w": np.array([1.0, -1.0])}
    >>> opt = Adam(lr=0.1); opt.step(p, {"w": np.array([2.0, -3.0])}); p["w"].round(3).tolist()
    [0.9, -0.9]
    """

    def __init__(self, lr: float = 3e-4, betas=(0.9, 0.999), eps: float = 1e-8, clip: float | None = None):
        _check_step(lr, clip)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1); got {betas}")
        self.lr, self.b1, self.b2, self.eps, self.clip = float(lr), float(b1), float(b2), float(eps), clip
        self.k = 0
        self.m: dict[str, np.ndarray] = {}
        self.s: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to ``params`` (in place) from ``grads``."""
        grads = clip_gradients(grads, self.clip)
        self.k += 1
        c1 = 1.0 - self.b1 ** self.k
        c2 = 1.0 - self.b2 ** self.k
        for name, g in grads.items():
            if name not in self.m:
                self.m[name] = np.zeros_like(params[name])
                self.s[name] = np.zeros_like(params[name])
            m, s = self.m[name], self.s[name]
            m *= self.b1
            m += (1.0 - self.b1) * g
            s *= self.b2
            s += (1.0 - self.b2) * (g * g)
            params[name] -= self.lr * (m / c1) / (np.sqrt(s / c2) + self.eps)

    def state_dict(self) -> dict:
        """Copy of the optimizer state: ``{"k": int, "m": {...}, "s": {...}}``."""
        return {"k": self.k, "m": {k: v.copy() for k, v in self.m.items()},
                "s": {k: v.copy() for k, v in self.s.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.k = int(state["k"])
        self.m = {k: np.array(v, dtype=np.float64) for k, v in state["m"].items()}
        self.s = {k: np.array(v, dtype=np.float64) for k, v in state["s"].items()}


class SGD:
    """Plain stochastic gradient descent, ``p <- p - lr * g``, updating a parameter dict in place.

    Same interface as :class:`Adam` (``step``, ``state_dict``, ``load_state_dict``, ``lr``,
    ``clip``); its state is only the step count ``k``.

    Parameters
    ----------
    lr : float
        Step size (Liu et al. 2022: 1e-2).
    clip : float, optional
        If set, rescale the whole gradient to global norm ``clip`` when it exceeds it.

    Examples
    --------
    >>> p = {"w": np.array([1.0, -1.0])}
    >>> opt = SGD(lr=0.1); opt.step(p, {"w": np.array([2.0, -3.0])}); p["w"].round(3).tolist()
    [0.8, -0.7]
    """

    def __init__(self, lr: float = 1e-2, clip: float | None = None):
        _check_step(lr, clip)
        self.lr, self.clip = float(lr), clip
        self.k = 0

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to ``params`` (in place) from ``grads``."""
        grads = clip_gradients(grads, self.clip)
        self.k += 1
        for name, g in grads.items():
            params[name] -= self.lr * g

    def state_dict(self) -> dict:
        """``{"k": int, "m": {}, "s": {}}`` (the layout of :meth:`Adam.state_dict`, with no moments)."""
        return {"k": self.k, "m": {}, "s": {}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.k = int(state["k"])


def make_optimizer(name: str, lr: float, clip: float | None = None):
    """``SGD(lr, clip)`` or ``Adam(lr, clip=clip)`` by name (``"sgd"`` or ``"adam"``).

    Examples
    --------
    >>> type(make_optimizer("sgd", 0.01)).__name__
    'SGD'
    """
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {name!r}")
    return SGD(lr=lr, clip=clip) if name.lower() == "sgd" else Adam(lr=lr, clip=clip)


def check_weight_decay(weight_decay, weight_decay_params, available: Iterable[str]) -> tuple[float, tuple[str, ...]]:
    """Validated ``(lambda, names)`` of an L2 weight-decay setting.

    ``weight_decay`` must be a finite number >= 0; ``weight_decay_params`` a parameter name or a
    sequence of distinct names among ``available``.

    Examples
    --------
    >>> check_weight_decay(0.01, ("W_in", "W_rec"), ("W_in", "W_rec", "b"))
    (0.01, ('W_in', 'W_rec'))
    """
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real):
        raise TypeError(f"weight_decay must be a number >= 0 (the L2 coefficient lambda); got {weight_decay!r}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0; got {weight_decay}")
    names = (weight_decay_params,) if isinstance(weight_decay_params, str) else weight_decay_params
    if not isinstance(names, Iterable):
        raise TypeError(f"weight_decay_params must be a parameter name or a tuple of names; got {weight_decay_params!r}")
    names = tuple(names)
    available = tuple(available)
    bad = [n for n in names if not isinstance(n, str) or n not in available]
    if bad:
        raise ValueError(f"weight_decay_params has unknown parameter(s) {bad}; choose among {list(available)}")
    if len(set(names)) != len(names):
        raise ValueError(f"weight_decay_params lists a parameter twice: {names}")
    if weight_decay > 0 and not names:
        raise ValueError("weight_decay > 0 needs at least one parameter in weight_decay_params")
    return float(weight_decay), names


def weight_decay_penalty(params: Mapping[str, np.ndarray], weight_decay: float,
                         names: Iterable[str] = ("W_in", "W_rec", "W_out")) -> tuple[float, dict]:
    """The L2 term of the loss and its gradient: ``(lambda / 2) sum_W ||W||_F^2`` and ``{W: lambda W}``.

    Parameters
    ----------
    params : dict of arrays
    weight_decay : float
        ``lambda`` (Liu et al. 2022: 1e-2 on ``W_in``, ``W_rec``, ``W_out``).
    names : iterable of str
        The decayed parameters.

    Returns
    -------
    (float, dict)
        The penalty (added to the loss) and its gradient for each name in ``names``.

    Examples
    --------
    >>> value, grad = weight_decay_penalty({"W_rec": np.array([[3.0, 4.0]])}, 0.1, ("W_rec",))
    >>> round(value, 6), grad["W_rec"].tolist()
    (1.25, [[0.30000000000000004, 0.4]])
    """
    lam = float(weight_decay)
    with np.errstate(over="ignore"):  # diverging weights give inf, which train() reports as divergence
        value = 0.5 * lam * sum(float(np.sum(np.square(params[n]))) for n in names)
    return value, {n: lam * np.asarray(params[n], dtype=np.float64) for n in names}
