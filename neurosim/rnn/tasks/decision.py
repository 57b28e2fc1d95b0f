"""Two-alternative decision tasks in the neurogym style (``dt`` = 10 ms per step).

Outputs are three classes trained with cross-entropy: 0 = fixate, 1 and 2 = the two choices.
Inputs start with a fixation channel that is 1 until the decision period. Timing is drawn per
trial in training; the evaluation condition set uses fixed timing and no input noise.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch
from neurosim.rnn.tasks.base import (Task, check_eval_timing, check_noise_level, check_span, check_steps, check_batch_size, check_rng, choice_accuracy, class_targets, draw,
                                     window)


class _Decision(Task):
    loss = "ce"
    n_out = 3
    decision_weight = 5.0
    grace = 2  # first steps of the decision period are not scored

    def _mask(self, decision: np.ndarray, dec_start: np.ndarray, T: int) -> np.ndarray:
        t = np.arange(T)
        mask = np.ones(decision.shape)
        mask[decision] = self.decision_weight
        mask[window(t, dec_start, dec_start + self.grace)] = 0.0
        return mask

    def accuracy(self, outputs, batch: Batch) -> float:
        """Fraction of correct choices (see :func:`~neurosim.rnn.tasks.base.choice_accuracy`)."""
        return choice_accuracy(outputs, batch)


class ContextDependentIntegration(_Decision):
    """Context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013).

    Inputs (5): fixation, motion evidence, colour evidence (each ``coherence + noise`` during the
    stimulus), motion-context cue, colour-context cue (on for the whole trial). Outputs (3, CE):
    fixate / choice 1 (cued coherence > 0) / choice 2 (cued coherence < 0), reported in the
    decision period after the delay. Trial epochs in steps: fixation, stimulus, delay, decision.

    Conditions: 2 contexts x 6 signed motion coherences x 6 signed colour coherences = 72, labelled
    by a MultiIndex ``(context, motion_coherence, colour_coherence)``. Accuracy = fraction of the
    72 noise-free conditions (or of a batch's trials) with the right choice.

    Parameters
    ----------
    coherences : sequence of float
        Positive coherence levels; their negatives are added (default 0.05, 0.15, 0.5).
    noise : float
        Standard deviation of the per-step input noise in training batches.
    fixation, stimulus, delay : (int, int)
        Inclusive ranges of epoch lengths in steps, drawn per trial; ``decision`` steps follow.
    eval_timing : (int, int, int)
        Fixed (fixation, stimulus, delay) of the condition set.

    Examples
    --------
    >>> task = ContextDependentIntegration()
    >>> b = task.conditions(); b.inputs.shape, len(b.conditions)
    ((72, 100, 5), 72)
    >>> b.conditions.names
    FrozenList(['context', 'motion_coherence', 'colour_coherence'])
    >>> task.accuracy(b.targets * 10, b)
    1.0
    """

    name = "context-dependent-integration"
    n_in = 5

    def __init__(self, *, coherences=(0.05, 0.15, 0.5), noise: float = 0.5, fixation=(10, 30),
                 stimulus=(40, 80), delay=(0, 20), decision: int = 20, eval_timing=(20, 50, 10)):
        c = np.sort(np.asarray(coherences, dtype=np.float64))
        if c.ndim != 1 or c.size < 1 or not np.all(np.isfinite(c) & (c > 0)):
            raise ValueError(f"coherences must be positive levels (their negatives are added); got {coherences}")
        self.coherences = tuple(float(v) for v in c)
        self.signed = np.concatenate([-c[::-1], c])
        self.noise = check_noise_level(noise)
        self.fixation, self.stimulus = check_span(fixation, "fixation"), check_span(stimulus, "stimulus", 1)
        self.delay = check_span(delay, "delay")
        self.decision = check_steps(decision, "decision", 1)
        self.eval_timing = check_eval_timing(
            eval_timing, {"fixation": 0, "stimulus": 1, "delay": 0})
        self.T = self.fixation[1] + self.stimulus[1] + self.delay[1] + self.decision

    def config(self) -> dict:
        return {"name": self.name, "coherences": list(self.coherences), "noise": self.noise,
                "fixation": list(self.fixation), "stimulus": list(self.stimulus), "delay": list(self.delay),
                "decision": self.decision, "eval_timing": list(self.eval_timing)}

    def _trials(self, context, cm, cc, fix, stim, dly, T, noise, rng):
        B = len(context)
        t = np.arange(T)
        s0 = fix
        s1 = fix + stim
        d0 = s1 + dly
        d1 = np.full(B, T)  # the decision period runs to the end of the trial
        stim_on = window(t, s0, s1)
        decision = window(t, d0, d1)
        x = np.zeros((B, T, self.n_in))
        x[..., 0] = ~decision
        x[..., 1] = stim_on * cm[:, None]
        x[..., 2] = stim_on * cc[:, None]
        if noise > 0:
            x[..., 1:3] += stim_on[..., None] * rng.normal(0.0, noise, size=(B, T, 2))
        x[..., 3] = (context == 0)[:, None]
        x[..., 4] = (context == 1)[:, None]
        cued = np.where(context == 0, cm, cc)
        choice = np.where(cued > 0, 1, 2)
        y = class_targets(decision, choice, self.n_out)
        mask = self._mask(decision, d0, T)
        return x, y, mask, {"decision": decision, "choice": choice, "decision_start": d0}

    def batch(self, batch_size: int, rng) -> Batch:
        """Training batch: random context, coherences, epoch lengths and input noise."""
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        context = rng.integers(0, 2, B)
        cm = rng.choice(self.signed, B)
        cc = rng.choice(self.signed, B)
        fix, stim, dly = draw(rng, self.fixation, B), draw(rng, self.stimulus, B), draw(rng, self.delay, B)
        x, y, m, info = self._trials(context, cm, cc, fix, stim, dly, self.T, self.noise, rng)
        info["labels"] = {"context": context, "motion_coherence": cm, "colour_coherence": cc}
        return Batch(x, y, m, loss=self.loss, time=np.arange(self.T) * self.dt, info=info)

    def conditions(self) -> Batch:
        """The 72 noise-free conditions with fixed timing; ``time`` in ms from trial start."""
        combos = list(itertools.product((0, 1), self.signed, self.signed))
        context = np.array([c[0] for c in combos])
        cm = np.array([c[1] for c in combos])
        cc = np.array([c[2] for c in combos])
        C = len(combos)
        fix, stim, dly = (np.full(C, v) for v in self.eval_timing)
        T = int(sum(self.eval_timing)) + self.decision
        x, y, m, info = self._trials(context, cm, cc, fix, stim, dly, T, 0.0, None)
        labels = pd.MultiIndex.from_arrays(
            [np.where(context == 0, "motion", "colour"), cm, cc],
            names=["context", "motion_coherence", "colour_coherence"])
        return Batch(x, y, m, loss=self.loss, time=np.arange(T) * self.dt, conditions=labels, info=info)


class PerceptualDecision(_Decision):
    """Perceptual decision making (random dots; neurogym ``PerceptualDecisionMaking``).

    Inputs (3): fixation, evidence for choice 1 ``(1 + s c)/2``, evidence for choice 2
    ``(1 - s c)/2`` (plus noise in training), with ``s = +1`` for choice 1 and ``-1`` for choice 2.
    Outputs (3, CE): fixate / choice 1 / choice 2. Conditions: 5 coherences x 2 choices,
    labelled ``(coherence, choice)``. Accuracy = fraction of correct choices.

    Examples
    --------
    >>> task = PerceptualDecision()
    >>> b = task.conditions(); b.inputs.shape
    (10, 70, 3)
    >>> task.accuracy(b.targets, b)
    1.0
    """

    name = "perceptual-decision"
    n_in = 3

    def __init__(self, *, coherences=(0.032, 0.064, 0.128, 0.256, 0.512), noise: float = 0.3,
                 fixation=(10, 20), stimulus=(30, 60), decision: int = 20, eval_timing=(10, 40)):
        c = np.asarray(coherences, dtype=np.float64)
        if c.ndim != 1 or c.size < 1 or not np.all(np.isfinite(c) & (c > 0)):
            raise ValueError(f"coherences must be positive; got {coherences}")
        self.coherences = tuple(float(v) for v in c)
        self.noise = check_noise_level(noise)
        self.fixation, self.stimulus = check_span(fixation, "fixation"), check_span(stimulus, "stimulus", 1)
        self.decision = check_steps(decision, "decision", 1)
        self.eval_timing = check_eval_timing(eval_timing, {"fixation": 0, "stimulus": 1})
        self.T = self.fixation[1] + self.stimulus[1] + self.decision

    def config(self) -> dict:
        return {"name": self.name, "coherences": list(self.coherences), "noise": self.noise,
                "fixation": list(self.fixation), "stimulus": list(self.stimulus), "decision": self.decision,
                "eval_timing": list(self.eval_timing)}

    def _trials(self, coh, choice, fix, stim, T, noise, rng):
        B = len(coh)
        t = np.arange(T)
        s1 = fix + stim
        stim_on = window(t, fix, s1)
        decision = window(t, s1, np.full(B, T))
        sgn = np.where(choice == 1, 1.0, -1.0)
        x = np.zeros((B, T, self.n_in))
        x[..., 0] = ~decision
        x[..., 1] = stim_on * ((1 + sgn * coh) / 2)[:, None]
        x[..., 2] = stim_on * ((1 - sgn * coh) / 2)[:, None]
        if noise > 0:
            x[..., 1:] += stim_on[..., None] * rng.normal(0.0, noise, size=(B, T, 2))
        y = class_targets(decision, choice, self.n_out)
        return x, y, self._mask(decision, s1, T), {"decision": decision, "choice": choice, "decision_start": s1}

    def batch(self, batch_size: int, rng) -> Batch:
        """Training batch: random coherence, choice, epoch lengths and input noise."""
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        coh = rng.choice(np.asarray(self.coherences), B)
        choice = rng.integers(1, 3, B)
        fix, stim = draw(rng, self.fixation, B), draw(rng, self.stimulus, B)
        x, y, m, info = self._trials(coh, choice, fix, stim, self.T, self.noise, rng)
        return Batch(x, y, m, loss=self.loss, time=np.arange(self.T) * self.dt, info=info)

    def conditions(self) -> Batch:
        """The 10 noise-free conditions (5 coherences x 2 choices) with fixed timing."""
        combos = list(itertools.product(self.coherences, (1, 2)))
        coh = np.array([c[0] for c in combos])
        choice = np.array([c[1] for c in combos])
        C = len(combos)
        T = sum(self.eval_timing) + self.decision
        x, y, m, info = self._trials(coh, choice, np.full(C, self.eval_timing[0]),
                                     np.full(C, self.eval_timing[1]), T, 0.0, None)
        labels = pd.MultiIndex.from_arrays([coh, choice], names=["coherence", "choice"])
        return Batch(x, y, m, loss=self.loss, time=np.arange(T) * self.dt, conditions=labels, info=info)


class DelayedMatchToSample(_Decision):
    """Delayed match-to-sample (neurogym ``DelayMatchSample``).

    Inputs (3): fixation, ``cos`` and ``sin`` of the stimulus angle (shown during the sample and
    the test epochs, with noise in training). Outputs (3, CE): fixate / match / non-match, reported
    during the test epoch. Conditions: every (sample, test) pair of the stimulus angles (default
    0, 90, 180, 270 degrees: 16 conditions, 4 of them matches), labelled ``(sample, test)``.
    Accuracy = fraction of correct match / non-match reports.

    Examples
    --------
    >>> task = DelayedMatchToSample()
    >>> b = task.conditions(); b.inputs.shape, len(b.conditions)
    ((16, 90, 3), 16)
    >>> task.accuracy(b.targets, b)
    1.0
    """

    name = "delayed-match-to-sample"
    n_in = 3

    def __init__(self, *, angles=(0.0, 90.0, 180.0, 270.0), noise: float = 0.1, fixation=(10, 20),
                 sample: int = 20, delay=(20, 50), test: int = 20, eval_timing=(10, 40)):
        a = np.asarray(angles, dtype=np.float64)
        if a.ndim != 1 or a.size < 2:
            raise ValueError(f"angles needs at least two stimulus angles (degrees); got {angles}")
        if not np.isfinite(a).all():
            raise ValueError(f"angles must be finite (degrees); got {angles}")
        self.angles = tuple(float(v) for v in a)
        self.noise = check_noise_level(noise)
        self.fixation, self.delay = check_span(fixation, "fixation"), check_span(delay, "delay")
        self.sample, self.test = check_steps(sample, "sample", 1), check_steps(test, "test", 1)
        self.eval_timing = check_eval_timing(eval_timing, {"fixation": 0, "delay": 0})
        self.T = self.fixation[1] + self.sample + self.delay[1] + self.test

    def config(self) -> dict:
        return {"name": self.name, "angles": list(self.angles), "noise": self.noise,
                "fixation": list(self.fixation), "sample": self.sample, "delay": list(self.delay),
                "test": self.test, "eval_timing": list(self.eval_timing)}

    def _trials(self, s_idx, t_idx, fix, dly, T, noise, rng):
        B = len(s_idx)
        t = np.arange(T)
        rad = np.deg2rad(np.asarray(self.angles))
        s1 = fix + self.sample
        t0 = s1 + dly
        t1 = t0 + self.test
        sample_on = window(t, fix, s1)
        test_on = window(t, t0, t1)
        x = np.zeros((B, T, self.n_in))
        x[..., 0] = ~test_on
        for on, idx in ((sample_on, s_idx), (test_on, t_idx)):
            x[..., 1] += on * np.cos(rad[idx])[:, None]
            x[..., 2] += on * np.sin(rad[idx])[:, None]
        if noise > 0:
            x[..., 1:] += rng.normal(0.0, noise, size=(B, T, 2))
        choice = np.where(s_idx == t_idx, 1, 2)
        y = class_targets(test_on, choice, self.n_out)
        mask = self._mask(test_on, t0, T)
        mask[t[None, :] >= t1[:, None]] = 0.0  # after the test epoch: unscored padding
        return x, y, mask, {"decision": test_on, "choice": choice, "decision_start": t0}

    def batch(self, batch_size: int, rng) -> Batch:
        """Training batch: random sample; the test matches it with probability 1/2."""
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        n = len(self.angles)
        s_idx = rng.integers(0, n, B)
        other = (s_idx + rng.integers(1, n, B)) % n
        t_idx = np.where(rng.random(B) < 0.5, s_idx, other)
        fix, dly = draw(rng, self.fixation, B), draw(rng, self.delay, B)
        x, y, m, info = self._trials(s_idx, t_idx, fix, dly, self.T, self.noise, rng)
        return Batch(x, y, m, loss=self.loss, time=np.arange(self.T) * self.dt, info=info)

    def conditions(self) -> Batch:
        """Every (sample, test) pair, noise-free, fixed timing; accuracy weights them equally."""
        n = len(self.angles)
        s_idx, t_idx = (v.ravel() for v in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
        C = n * n
        T = self.eval_timing[0] + self.sample + self.eval_timing[1] + self.test
        x, y, m, info = self._trials(s_idx, t_idx, np.full(C, self.eval_timing[0]),
                                     np.full(C, self.eval_timing[1]), T, 0.0, None)
        ang = np.asarray(self.angles)
        labels = pd.MultiIndex.from_arrays([ang[s_idx], ang[t_idx]], names=["sample", "test"])
        return Batch(x, y, m, loss=self.loss, time=np.arange(T) * self.dt, conditions=labels, info=info)
