"""Leaky RNNs trained with BPTT or e-prop, and tasks to train them on.

>>> import numpy as np, neurosim
>>> m = neurosim.rnn.LeakyRNN(3, 10, 2, seed=0)
>>> m.params["W_rec"].shape
(10, 10)
"""

from neurosim.rnn.model import Batch, Forward, LeakyRNN, loss
from neurosim.rnn.rules import RULES, gradients, random_feedback, value_and_gradients
from neurosim.rnn.optim import Adam

__all__ = ["LeakyRNN", "Batch", "Forward", "loss", "gradients", "value_and_gradients", "RULES",
           "random_feedback", "Adam"]
