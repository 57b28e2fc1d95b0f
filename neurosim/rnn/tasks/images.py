"""Image classification presented one row at a time: what the sequential image tasks share.

An image of ``rows`` rows is shown row by row, each row held ``hold`` steps, then ``response``
steps of zero input follow (``T = rows * hold + response``). The network reports the class
(cross-entropy, :func:`neurosim.rnn.loss` with ``loss="ce"``) on the *readout* steps: the
response period, or the last step when there is none (``response = 0``). Accuracy is the
fraction of images whose output, averaged over the readout steps, peaks at the right class.

Images come from a fixed, stratified split (:func:`stratified_split`) into training,
validation (optional) and test images; a task draws from one split.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch
from neurosim.rnn.tasks.base import Task, check_batch_size, check_noise_level, check_outputs, check_rng

SPLITS = ("train", "validation", "test")


def stratified_split(labels, test_fraction: float, validation_fraction: float = 0.0, seed: int = 0) -> dict:
    """Indices of a stratified train / validation / test split (scikit-learn ``train_test_split``).

    The test images are split off first (``test_fraction`` of all, stratified by label, seed
    ``seed``); the validation images (``validation_fraction`` of all) are then split off the rest
    with the same seed. ``validation_fraction = 0`` gives a two-way split (no validation key).

    Parameters
    ----------
    labels : array (n,)
    test_fraction, validation_fraction : float
        Fractions of all images; their sum must be < 1.
    seed : int

    Returns
    -------
    dict
        ``{"train": ndarray, ["validation": ndarray,] "test": ndarray}`` of indices into ``labels``.

    Examples
    --------
    >>> labels = np.repeat([0, 1], 10)
    >>> s = stratified_split(labels, 0.2, 0.2, seed=0)
    >>> [len(s[k]) for k in ("train", "validation", "test")], np.bincount(labels[s["test"]]).tolist()
    ([12, 4, 4], [2, 2])
    """
    return {k: v.copy() for k, v in _split(tuple(np.asarray(labels).tolist()), float(test_fraction),
                                           float(validation_fraction), int(seed)).items()}


@functools.lru_cache(maxsize=16)
def _split(labels: tuple, test_fraction: float, validation_fraction: float, seed: int) -> dict:
    from sklearn.model_selection import train_test_split  # imported on first use: measured import cost (~0.75 s)

    if not (0.0 < test_fraction < 1.0 and 0.0 <= validation_fraction < 1.0
            and test_fraction + validation_fraction < 1.0):
        raise ValueError(f"test_fraction must be in (0, 1), validation_fraction in [0, 1) and their sum < 1; "
                         f"got {test_fraction} and {validation_fraction}")
    y = np.asarray(labels)
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)
    out = {"train": np.asarray(train), "test": np.asarray(test)}
    if validation_fraction > 0:
        rest = validation_fraction / (1.0 - test_fraction)
        train, val = train_test_split(out["train"], test_size=rest, random_state=seed, stratify=y[out["train"]])
        out["train"], out["validation"] = np.asarray(train), np.asarray(val)
    return out


class RowImages(Task):
    """Base class of the row-by-row image tasks (:class:`Digits`, :class:`SequentialMNIST`).

    Subclasses set ``name``, ``rows``, ``n_in`` (pixels per row), ``n_out`` (classes),
    ``clip_noise`` (whether noisy pixels are clipped to [0, 1]) and implement :meth:`_images`
    (``(images (n, rows, n_in) in [0, 1], labels (n,))``) and :meth:`config`; their
    ``__init__`` calls :meth:`_setup`.
    """

    loss = "ce"
    rows = 0
    clip_noise = False
    splits = ("train", "test")

    def _images(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _setup(self, *, hold, response, test_fraction, validation_fraction, split_seed, n_train, noise, split,
               min_response: int = 1):
        for name, val, low in (("hold", hold, 1), ("response", response, min_response)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low:
                raise ValueError(f"{name} must be an integer number of steps >= {low}; got {val!r}")
        for name, val in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
            if isinstance(val, (bool, np.bool_, str)) or not isinstance(val, (int, float, np.floating, np.integer)):
                raise TypeError(f"{name} must be a number; got {val!r}")
        noise = check_noise_level(noise)
        if not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
        if not 0.0 <= float(validation_fraction) < 1.0 - float(test_fraction):
            raise ValueError(f"validation_fraction must be in [0, 1 - test_fraction); got {validation_fraction}")
        if split not in self.splits:
            raise ValueError(f"split must be one of {list(self.splits)}; got {split!r}")
        if isinstance(split_seed, (bool, np.bool_)) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
            raise ValueError(f"split_seed must be an integer >= 0; got {split_seed!r}")
        self.hold, self.response = int(hold), int(response)
        self.test_fraction, self.split_seed = float(test_fraction), int(split_seed)
        self.validation_fraction = float(validation_fraction)
        self.noise = float(noise)
        self.split = split
        _, labels = self._images()
        parts = stratified_split(labels, self.test_fraction, self.validation_fraction, self.split_seed)
        train = parts["train"]
        if n_train is not None:
            if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or not 10 <= n_train <= len(train):
                raise ValueError(f"n_train must be an integer in [10, {len(train)}]; got {n_train!r}")
            parts["train"] = train[: int(n_train)]
        self.n_train = None if n_train is None else int(n_train)
        self.indices = parts[split]
        self.T = self.rows * self.hold + self.response
        self._conditions = None

    def _with_split(self, split: str) -> "RowImages":
        cfg = {k: v for k, v in self.config().items() if k != "name"}
        return type(self)(**{**cfg, "split": split})

    def test_task(self) -> "RowImages":
        """The same task drawing from the held-out test images (for ``generalization_gap(test_task=...)``)."""
        return self._with_split("test")

    def readout(self) -> np.ndarray:
        """Boolean (T,): the steps the class is read out on (the response period, else the last step)."""
        steps = np.zeros(self.T, dtype=bool)
        steps[self.T - max(self.response, 1):] = True
        return steps

    def _trials(self, idx: np.ndarray, noise: float, rng) -> Batch:
        images, labels = self._images()
        img = images[idx]                                         # (B, rows, n_in)
        if noise > 0:
            img = img + rng.normal(0.0, noise, size=img.shape)
            if self.clip_noise:
                np.clip(img, 0.0, 1.0, out=img)
        B = len(idx)
        x = np.zeros((B, self.T, self.n_in))
        x[:, : self.rows * self.hold] = np.repeat(img, self.hold, axis=1)
        y = np.repeat(np.eye(self.n_out)[labels[idx]][:, None], self.T, axis=1)
        mask = np.repeat(self.readout()[None].astype(np.float64), B, axis=0)
        return Batch(x, y, mask, loss=self.loss, time=np.arange(self.T) * self.dt,
                     info={"digit": labels[idx], "image": idx})

    def batch(self, batch_size: int, rng) -> Batch:
        """``batch_size`` images of this split drawn uniformly with replacement (plus pixel noise)."""
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        return self._trials(rng.choice(self.indices, size=B), self.noise, rng)

    def _label(self, b: Batch, idx: np.ndarray) -> Batch:
        b.conditions = pd.MultiIndex.from_arrays([idx, b.info["digit"]], names=["image", "digit"])
        return b

    def conditions(self) -> Batch:
        """Every image of this split once, noise-free, labelled ``(image, digit)``."""
        if self._conditions is None:
            self._conditions = self._label(self._trials(self.indices, 0.0, None), self.indices)
        return self._conditions

    def corrupted(self, sigma: float, seed: int = 0) -> Batch:
        """Every image of this split once with Gaussian pixel noise ``N(0, sigma^2)``.

        The noise is drawn from ``np.random.default_rng(seed)`` (the same corrupted set every
        call); pixels are clipped to [0, 1] if the task's ``clip_noise`` is set
        (:class:`SequentialMNIST`, as in Liu et al. 2022: ``sigma = 0.2``).
        """
        if isinstance(sigma, (bool, str)) or not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"sigma must be a non-negative number (pixel-noise SD); got {sigma!r}")
        return self._label(self._trials(self.indices, float(sigma), np.random.default_rng(seed)), self.indices)

    def accuracy(self, outputs, batch: Batch) -> float:
        """Fraction of images whose readout-period mean output peaks at the right class."""
        y = check_outputs(outputs, batch)
        resp = batch.mask > 0
        mean = (y * resp[..., None]).sum(1) / np.maximum(resp.sum(1), 1)[:, None]
        return float(np.mean(np.argmax(mean, axis=1) == batch.info["digit"]))
