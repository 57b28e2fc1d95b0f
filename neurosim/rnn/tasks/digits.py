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

from neurosim.rnn.tasks.images import RowImages

SPLITS = ("train", "test")


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported on first use: measured import cost (scikit-learn: ~0.75 s)

    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(int)


class Digits(RowImages):
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
        self._setup(hold=hold, response=response, test_fraction=test_fraction, validation_fraction=0.0,
                    split_seed=split_seed, n_train=n_train, noise=noise, split=split)

    def _images(self) -> tuple[np.ndarray, np.ndarray]:
        return _images()

    def config(self) -> dict:
        return {"name": self.name, "hold": self.hold, "response": self.response,
                "test_fraction": self.test_fraction, "split_seed": self.split_seed, "n_train": self.n_train,
                "noise": self.noise, "split": self.split}
