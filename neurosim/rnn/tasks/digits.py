"""Sequential handwritten digits: real images with a fixed train/test split.

The 1,797 8 x 8 images of :func:`sklearn.datasets.load_digits` (UCI optical digits, shipped with
scikit-learn, no download) are presented one row at a time, each row held for ``hold`` steps, so
that a network with time constant tau = 10 steps has to integrate and remember the rows it saw.
A response period of ``response`` steps with zero input follows; the network reports the digit
there (10 classes, masked cross-entropy on those steps only). Generalization is measured on
images the network never trained on: ``Digits(split="test")`` (or :meth:`Digits.test_task`)
draws from the held-out images of the same seeded split.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch
from neurosim.rnn.tasks.base import Task, check_batch_size, check_noise_level, check_outputs, check_rng

SPLITS = ("train", "test")


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported on first use: measured import cost (scikit-learn: ~0.75 s)

    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(int)


@functools.lru_cache(maxsize=8)
def _split_indices(test_fraction: float, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split  # imported on first use: measured import cost

    _, y = _images()
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=test_fraction, random_state=split_seed, stratify=y)
    return np.asarray(train), np.asarray(test)


class Digits(Task):
    """Row-by-row handwritten digit classification (``sklearn.datasets.load_digits``).

    Inputs (8): the 8 pixel intensities of the current row, scaled to [0, 1]; row ``i`` is shown
    on steps ``i*hold .. (i+1)*hold - 1``, then ``response`` steps of zero input follow
    (``T = 8 hold + response``). Outputs (10, cross-entropy): the digit, scored during the
    response period only (mask 1 there, 0 before). Accuracy = fraction of images whose output,
    averaged over the response period, has its argmax at the right digit.

    The split is stratified by digit and fixed by ``split_seed`` (sklearn ``train_test_split``);
    ``n_train`` keeps only the first ``n_train`` training images (a smaller training set widens
    the generalization gap). ``batch`` draws images of ``split`` uniformly with replacement;
    ``conditions()`` is every image of ``split`` once, labelled ``(image, digit)`` (image = row
    of ``load_digits``), so ``run.checkpoints.accuracy`` is the accuracy on the training images
    and ``Digits(split="test")`` gives held-out accuracy.

    Parameters
    ----------
    hold : int
        Steps each row is held (default 5 = half a time constant at tau = 10 steps).
    response : int
        Steps of the response period (default 5).
    test_fraction : float
        Fraction of the images held out (default 0.3: 1,257 train / 540 test).
    split_seed : int
        Seed of the split.
    n_train : int, optional
        Use only this many training images.
    noise : float
        Standard deviation of Gaussian pixel noise added to training batches (default 0).
    split : {"train", "test"}
        Which images this task draws from.

    Examples
    --------
    >>> task = Digits()
    >>> b = task.conditions(); b.inputs.shape, len(b.conditions)
    ((1257, 45, 8), 1257)
    >>> Digits(split="test").conditions().inputs.shape[0]
    540
    >>> task.accuracy(b.targets, b)
    1.0
    """

    name = "digits"
    loss = "ce"
    n_in = 8
    n_out = 10
    rows = 8

    def __init__(self, *, hold: int = 5, response: int = 5, test_fraction: float = 0.3, split_seed: int = 0,
                 n_train: int | None = None, noise: float = 0.0, split: str = "train"):
        for name, val in (("hold", hold), ("response", response)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{name} must be a positive integer number of steps; got {val!r}")
        if isinstance(test_fraction, (str, bool, np.bool_)) or not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        check_noise_level(noise)
        if isinstance(split_seed, (bool, np.bool_)) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
            raise ValueError(f"split_seed must be an integer >= 0; got {split_seed!r}")
        self.hold, self.response = int(hold), int(response)
        self.test_fraction, self.split_seed = float(test_fraction), int(split_seed)
        self.noise = float(noise)
        self.split = split
        train, test = _split_indices(self.test_fraction, self.split_seed)
        if n_train is not None:
            if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or not 10 <= n_train <= len(train):
                raise ValueError(f"n_train must be an integer in [10, {len(train)}]; got {n_train!r}")
            train = train[: int(n_train)]
        self.n_train = None if n_train is None else int(n_train)
        self.indices = train if split == "train" else test
        self.T = self.rows * self.hold + self.response
        self._conditions = None

    def config(self) -> dict:
        return {"name": self.name, "hold": self.hold, "response": self.response,
                "test_fraction": self.test_fraction, "split_seed": self.split_seed, "n_train": self.n_train,
                "noise": self.noise, "split": self.split}

    def test_task(self) -> "Digits":
        """The same task drawing from the held-out images (for ``generalization_gap(test_task=...)``)."""
        return Digits(**{**{k: v for k, v in self.config().items() if k != "name"}, "split": "test"})

    def _trials(self, idx: np.ndarray, noise: float, rng) -> Batch:
        images, digits = _images()
        img = images[idx]                                         # (B, 8, 8)
        if noise > 0:
            img = img + rng.normal(0.0, noise, size=img.shape)
        B = len(idx)
        x = np.zeros((B, self.T, self.n_in))
        x[:, : self.rows * self.hold] = np.repeat(img, self.hold, axis=1)
        y = np.repeat(np.eye(self.n_out)[digits[idx]][:, None], self.T, axis=1)
        mask = np.zeros((B, self.T))
        mask[:, self.rows * self.hold:] = 1.0
        return Batch(x, y, mask, loss=self.loss, time=np.arange(self.T) * self.dt,
                     info={"digit": digits[idx], "image": idx})

    def batch(self, batch_size: int, rng) -> Batch:
        """``batch_size`` images of this split drawn uniformly with replacement (plus pixel noise)."""
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        return self._trials(rng.choice(self.indices, size=B), self.noise, rng)

    def conditions(self) -> Batch:
        """Every image of this split once, noise-free, labelled ``(image, digit)``."""
        if self._conditions is None:
            b = self._trials(self.indices, 0.0, None)
            b.conditions = pd.MultiIndex.from_arrays([self.indices, b.info["digit"]], names=["image", "digit"])
            self._conditions = b
        return self._conditions

    def accuracy(self, outputs, batch: Batch) -> float:
        """Fraction of images whose response-period mean output peaks at the right digit."""
        y = check_outputs(outputs, batch)
        resp = batch.mask > 0
        mean = (y * resp[..., None]).sum(1) / np.maximum(resp.sum(1), 1)[:, None]
        return float(np.mean(np.argmax(mean, axis=1) == batch.info["digit"]))
