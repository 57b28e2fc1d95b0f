"""Tasks to train RNNs on; each yields ``(inputs, targets, mask)`` batches, a noise-free condition
set with the recordings' condition labels, and an ``accuracy``.

>>> from neurosim.rnn import tasks
>>> sorted(tasks.TASKS)
['center-out', 'context-dependent-integration', 'delayed-match-to-sample', 'digits', 'perceptual-decision', 'seqmnist']
"""

from __future__ import annotations

import xarray as xr

from neurosim.datasets import load
from neurosim.rnn.model import _did_you_mean
from neurosim.rnn.tasks.base import Task
from neurosim.rnn.tasks.center_out import CenterOutReach
from neurosim.rnn.tasks.decision import ContextDependentIntegration, DelayedMatchToSample, PerceptualDecision
from neurosim.rnn.tasks.digits import Digits
from neurosim.rnn.tasks.images import RowImages
from neurosim.rnn.tasks.seqmnist import SequentialMNIST

TASKS = {
    "center-out": CenterOutReach,
    "context-dependent-integration": ContextDependentIntegration,
    "perceptual-decision": PerceptualDecision,
    "delayed-match-to-sample": DelayedMatchToSample,
    "digits": Digits,
    "seqmnist": SequentialMNIST,
}
ALIASES = {"centre-out": "center-out", "cdi": "context-dependent-integration", "mante": "context-dependent-integration",
           "context": "context-dependent-integration", "dms": "delayed-match-to-sample",
           "pdm": "perceptual-decision", "decision": "perceptual-decision",
           "sequential-mnist": "seqmnist", "mnist": "seqmnist"}


def make(name: str, *, data=None, **kwargs) -> Task:
    """Build a task by name (``"center-out"`` needs ``data``: the hatsopoulos2007 Dataset or a path).

    Examples
    --------
    >>> make("cdi").n_in
    5
    """
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}: " + _did_you_mean(name, list(TASKS) + list(ALIASES)))
    if key == "center-out":
        if not isinstance(data, xr.Dataset):
            data = load("hatsopoulos2007", path=data)
        return CenterOutReach.from_dataset(data, **kwargs)
    return TASKS[key](**kwargs)


def from_config(config: dict) -> Task:
    """Rebuild a task from ``task.config()`` (used by :func:`neurosim.rnn.load_run`).

    Examples
    --------
    >>> t = ContextDependentIntegration(noise=0.3); from_config(t.config()).noise
    0.3
    """
    cfg = dict(config)
    name = cfg.pop("name")
    cls = TASKS[name]
    if cls is CenterOutReach:
        return CenterOutReach(cfg.pop("kinematics"), cfg.pop("kin_time"), cfg.pop("directions"), **cfg)
    return cls(**cfg)


__all__ = ["Task", "CenterOutReach", "ContextDependentIntegration", "PerceptualDecision", "DelayedMatchToSample", "Digits",
           "RowImages", "SequentialMNIST", "TASKS", "make", "from_config"]
