"""What every task shares: batches, a noise-free condition set, accuracy, a serializable config."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch


class Task:
    """Base class of the trainable tasks.

    Subclasses set ``name``, ``n_in``, ``n_out``, ``loss`` (``"mse"`` or ``"ce"``), ``dt`` (ms per
    step) and implement :meth:`batch`, :meth:`conditions`, :meth:`accuracy` and :meth:`config`.
    """

    name = "task"
    loss = "mse"
    dt = 10.0
    n_in = 0
    n_out = 0
    time_alignment = "trial start"

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:  # pragma: no cover - abstract
        raise NotImplementedError

    def conditions(self) -> Batch:  # pragma: no cover - abstract
        raise NotImplementedError

    def accuracy(self, outputs: np.ndarray, batch: Batch) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def config(self) -> dict:
        """JSON-able arguments that rebuild this task with :func:`neurosim.rnn.tasks.from_config`."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name" and not isinstance(v, list))
        return f"{type(self).__name__}({args})"


def check_steps(value, name: str, minimum: int = 0) -> int:
    """A duration in time steps: an integer >= ``minimum`` (floats, strings and booleans refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer number of time steps >= {minimum}; got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer number of time steps >= {minimum}; got {value}")
    return int(value)


def check_span(value, name: str, minimum: int = 0) -> tuple[int, int]:
    """A period drawn per trial: ``(lo, hi)`` integer steps with ``minimum <= lo <= hi``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a (min, max) pair of integer time steps; got {value!r}")
    lo, hi = (check_steps(v, f"{name}[{i}]", minimum) for i, v in enumerate(value))
    if lo > hi:
        raise ValueError(f"{name} must be a (min, max) pair with min <= max; got {tuple(value)}")
    return lo, hi


def check_eval_timing(value, periods: dict) -> tuple[int, ...]:
    """Fixed durations of the evaluation trials: one integer per drawn period, each >= that
    period's minimum (``periods`` maps the period's name to its minimum number of steps)."""
    names = list(periods)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != len(periods):
        raise TypeError(f"eval_timing must give {len(periods)} integer durations ({', '.join(names)}); got {value!r}")
    return tuple(check_steps(v, f"eval_timing[{i}] ({name})", minimum)
                 for i, (v, (name, minimum)) in enumerate(zip(value, periods.items())))


def check_noise_level(noise, name: str = "noise") -> float:
    """Input-noise standard deviation: a real, finite number >= 0."""
    if isinstance(noise, (bool, np.bool_)) or not isinstance(noise, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number >= 0 (noise standard deviation); got {noise!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"{name} must be >= 0 and finite (noise standard deviation); got {noise}")
    return float(noise)


def check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


def check_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_))):
        if rng is not None and rng < 0:
            raise ValueError(f"rng as an int seed must be >= 0 (numpy seeds cannot be negative); got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator or an int seed; got {type(rng).__name__}")


def check_outputs(outputs, batch: Batch) -> np.ndarray:
    y = np.asarray(outputs, dtype=np.float64)
    if y.shape != batch.targets.shape:
        raise ValueError(f"outputs must have the targets' shape {batch.targets.shape}; got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("outputs contain NaN or inf (diverged network?)")
    return y


def window(t: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Boolean (B, T): ``start[b] <= t < stop[b]``."""
    return (t[None, :] >= np.asarray(start)[:, None]) & (t[None, :] < np.asarray(stop)[:, None])


def draw(rng: np.random.Generator, span, size: int) -> np.ndarray:
    """Integers uniform in the inclusive range ``span = (lo, hi)``."""
    lo, hi = span
    return rng.integers(lo, hi + 1, size=size)


def choice_accuracy(outputs: np.ndarray, batch: Batch) -> float:
    """Fraction of trials whose choice is right.

    The choice of a trial is the argmax, over the choice outputs (all outputs but output 0, the
    fixation class), of the outputs averaged over the decision period ``batch.info["decision"]``
    (B, T) boolean; the right answer is ``batch.info["choice"]`` (B,) in ``1..O-1``.
    """
    y = check_outputs(outputs, batch)
    dec = batch.info["decision"]
    mean = (y * dec[..., None]).sum(1) / np.maximum(dec.sum(1), 1)[:, None]
    pick = 1 + np.argmax(mean[:, 1:], axis=1)
    return float(np.mean(pick == batch.info["choice"]))


def class_targets(choice_period: np.ndarray, choice: np.ndarray, n_out: int) -> np.ndarray:
    """One-hot (B, T, O) targets: class 0 (fixate) outside ``choice_period``, ``choice`` inside."""
    cls = np.where(choice_period, np.asarray(choice)[:, None], 0)
    return np.eye(n_out)[cls]


def labels_index(frame: dict) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([np.asarray(v) for v in frame.values()], names=list(frame))
