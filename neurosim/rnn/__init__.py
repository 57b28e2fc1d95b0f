"""Leaky RNNs trained with BPTT or e-prop, tasks to train them on, and training runs.

>>> import numpy as np, neurosim
>>> task = neurosim.rnn.tasks.PerceptualDecision()
>>> m = neurosim.rnn.LeakyRNN(task.n_in, 10, task.n_out, seed=0)
>>> g = neurosim.rnn.gradients(m, task.batch(4, np.random.default_rng(0)), rule="eprop")
>>> g["W_rec"].shape
(10, 10)
"""

from neurosim.rnn import tasks
from neurosim.rnn.model import Batch, Forward, LeakyRNN, load_torch_checkpoint, loss
from neurosim.rnn.optim import Adam
from neurosim.rnn.rules import RULES, gradients, random_feedback, value_and_gradients
from neurosim.rnn.train import (
    ResumeConflict,
    Run,
    TrainingDiverged,
    activity,
    default_checkpoints,
    evaluate,
    load_run,
    train,
)
from neurosim.rnn import analysis  # noqa: E402  (after the names analysis modules import)
from neurosim.rnn.analysis.alignment import gradient_alignment

__all__ = ["LeakyRNN", "load_torch_checkpoint", "Batch", "Forward", "loss", "gradients", "value_and_gradients",
           "RULES", "random_feedback", "Adam", "tasks", "train", "Run", "TrainingDiverged", "ResumeConflict",
           "load_run", "activity",
           "evaluate", "default_checkpoints", "gradient_alignment", "analysis"]
