"""Adam (Kingma & Ba 2015) on dicts of float64 arrays, with a state that can be saved and restored.

Update for each parameter ``p`` with gradient ``g`` at step ``k = 1, 2, ...``::

    m <- b1 m + (1 - b1) g,     s <- b2 s + (1 - b2) g^2
    p <- p - lr * (m / (1 - b1^k)) / (sqrt(s / (1 - b2^k)) + eps)
"""

from __future__ import annotations

import numpy as np


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
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number; got {lr}")
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1); got {betas}")
        if clip is not None and not clip > 0:
            raise ValueError(f"clip must be positive or None; got {clip}")
        self.lr, self.b1, self.b2, self.eps, self.clip = float(lr), float(b1), float(b2), float(eps), clip
        self.k = 0
        self.m: dict[str, np.ndarray] = {}
        self.s: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to ``params`` (in place) from ``grads``."""
        if self.clip is not None:
            norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            if norm > self.clip:
                grads = {k: g * (self.clip / norm) for k, g in grads.items()}
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
