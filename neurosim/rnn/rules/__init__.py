"""Learning rules behind one interface: ``gradients(model, batch, rule=...) -> dict``.

===================  =========================================================================
``"bptt"``           exact gradient of :func:`neurosim.rnn.loss` (hand-written backward pass)
``"tbptt"``          truncated BPTT, option ``window=K`` (steps)
``"eprop"``          e-prop with symmetric feedback (``B_fb = W_out``)
``"eprop-random"``   e-prop with a fixed random feedback matrix (option ``feedback_seed`` or
                     ``feedback=`` array)
``"rtrl"``           exact gradient by real-time recurrent learning (influence tensor; small N)
``"modprop"``        ModProp: constant ``mu`` and cell-type-averaged ``W_rec`` in the non-local
                     term (options ``mu``, ``cell_types``; Dale's law for the default types)
``"mdgl"``           MDGL: e-prop + cell-type-specific modulation one synapse away (options
                     ``cell_types``, ``modulatory``; Dale's law for the default types)
``"fa"``             feedback alignment: BPTT with the readout error sent back through a fixed
                     random matrix (options ``feedback_seed`` or ``feedback=`` array)
===================  =========================================================================

All rules descend the same loss (task loss + activity penalty); the readout ``W_out``, ``b_out``
always gets its exact gradient.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from neurosim.metrics._validate import check_count, check_flag
from neurosim.rnn.model import Batch, LeakyRNN, _did_you_mean, check_dtype
from neurosim.rnn.rules.bptt import bptt
from neurosim.rnn.rules.eprop import eprop, random_feedback
from neurosim.rnn.rules.fa import feedback_alignment
from neurosim.rnn.rules.mdgl import mdgl
from neurosim.rnn.rules.modprop import _check_mu, modprop
from neurosim.rnn.rules.rtrl import rtrl
from neurosim.rnn.rules.tbptt import tbptt

RULES = ("bptt", "tbptt", "eprop", "eprop-random", "rtrl", "modprop", "mdgl", "fa")

_OPTIONS = {
    "bptt": set(),
    "tbptt": {"window"},
    "eprop": {"chunk", "learning_signal", "learning_signal_init"},
    "eprop-random": {"chunk", "feedback", "feedback_seed"},
    "rtrl": set(),
    "modprop": {"mu", "cell_types"},
    "mdgl": {"cell_types", "modulatory", "chunk"},
    "fa": {"feedback", "feedback_seed"},
}
# rules whose default cell types come from Dale's law populations
DALE_RULES = ("modprop", "mdgl")
#: rules that can compute in float32 (``dtype="float32"``); the others compute in float64 only
FLOAT32_RULES = ("bptt", "tbptt", "eprop", "eprop-random", "modprop", "mdgl", "fa")


def check_rule(rule: str, options: Mapping | None = None) -> str:
    """Validate a rule name and its options; returns the canonical name."""
    if not isinstance(rule, str):
        raise TypeError(f"rule must be a string; got {type(rule).__name__}")
    name = rule.lower().replace("_", "-")
    if name not in RULES:
        raise ValueError(f"unknown learning rule {rule!r}: " + _did_you_mean(rule, RULES))
    bad = set(options or {}) - _OPTIONS[name]
    if bad:
        raise TypeError(f"rule {name!r} does not take option(s) {sorted(bad)}; it takes {sorted(_OPTIONS[name]) or 'none'}")
    if name == "tbptt" and "window" not in (options or {}):
        raise TypeError("rule 'tbptt' needs window=K (truncation window in steps)")
    for key, minimum in (("window", 1), ("chunk", 1), ("feedback_seed", 0)):
        if key in (options or {}) and not (key == "chunk" and options[key] is None):
            check_count(options[key], key, minimum=minimum)
    if "mu" in (options or {}):
        _check_mu(options["mu"])
    if "modulatory" in (options or {}):
        check_flag(options["modulatory"], "modulatory")
    return name


def check_rule_dtype(rule: str, dtype) -> np.dtype:
    """``dtype`` as a numpy dtype after checking that ``rule`` (a canonical name) can compute in it.

    Examples
    --------
    >>> check_rule_dtype("eprop", "float32")
    dtype('float32')
    """
    dt = check_dtype(dtype)
    if dt != np.float64 and rule not in FLOAT32_RULES:
        raise ValueError(f"dtype={dt.name!r} is available for rules {list(FLOAT32_RULES)}; rule {rule!r} "
                         "computes in float64 only (pass dtype='float64')")
    return dt


def _split(model: LeakyRNN, batch: Batch, params, noise, result, parts: bool):
    """Append ``{"task", "activity"}`` to a rule's ``(loss, grads)`` (one extra forward pass)."""
    if not parts:
        return result
    E, grads = result
    act = 0.0
    if model.activity_l2 > 0:
        r = model.run(batch.inputs, params=params, noise=noise).r
        act = model.activity_l2 * float(np.mean(r * r))
    return E, grads, {"task": E - act, "activity": act}


def value_and_gradients(model: LeakyRNN, batch: Batch, rule: str = "bptt", *, params=None, noise=None,
                        parts: bool = False, dtype="float64", **options) -> tuple:
    """``(loss, gradients)`` in one pass (the loss is :func:`neurosim.rnn.loss` at ``params``).

    With ``parts=True`` a third element ``{"task": ..., "activity": ...}`` splits the loss into
    the task loss and the activity penalty ``lambda_r * mean(r^2)`` (what the adaptive penalty
    schedule of :func:`neurosim.rnn.train` compares). ``dtype="float32"`` computes the pass in
    single precision (rules in :data:`FLOAT32_RULES`; the gradients come back as float64).

    Examples
    --------
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = value_and_gradients(m, b, "eprop"); g["W_rec"].shape
    (6, 6)
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a neurosim.rnn.Batch (from task.batch(...)); got {type(batch).__name__}")
    name = check_rule(rule, options)
    dtype = check_rule_dtype(name, dtype)
    parts = check_flag(parts, "parts")
    if name == "bptt":
        return bptt(model, batch, params=params, noise=noise, parts=parts, dtype=dtype)
    if name == "tbptt":
        return tbptt(model, batch, params=params, noise=noise, window=options["window"], parts=parts, dtype=dtype)
    if name == "eprop":
        return eprop(model, batch, params=params, noise=noise, parts=parts, dtype=dtype, **options)
    if name == "rtrl":
        return _split(model, batch, params, noise, rtrl(model, batch, params=params, noise=noise), parts)
    if name == "modprop":
        return modprop(model, batch, params=params, noise=noise, parts=parts, dtype=dtype, **options)
    if name == "mdgl":
        return mdgl(model, batch, params=params, noise=noise, parts=parts, dtype=dtype, **options)
    if name == "fa":
        return feedback_alignment(model, batch, params=params, noise=noise, parts=parts, dtype=dtype, **options)
    fb = options.pop("feedback", None)
    seed = options.pop("feedback_seed", 0)
    if fb is None:
        fb = random_feedback(model.n_out, model.n_rec, seed)
    return eprop(model, batch, params=params, noise=noise, feedback=fb, parts=parts, dtype=dtype, **options)


def gradients(model: LeakyRNN, batch: Batch, rule: str = "bptt", *, params=None, noise=None, dtype="float64",
              **options) -> dict:
    """Gradient estimate of :func:`neurosim.rnn.loss` under a learning rule.

    Parameters
    ----------
    model : LeakyRNN
    batch : Batch
        From ``task.batch(batch_size, rng)`` or ``task.conditions()``.
    rule : {"bptt", "tbptt", "eprop", "eprop-random", "rtrl", "modprop", "mdgl", "fa"}
    params : dict, optional
        Evaluate at these parameters instead of ``model.params`` (same keys and shapes).
    noise : array (B, T, N), optional
        Voltage-noise samples for a noisy model (``model.noise_std > 0``).
    dtype : {"float64", "float32"}
        Floating-point type of the pass (float32: rules in :data:`FLOAT32_RULES`, faster by about
        1.5-2x; gradient checks and parity tests use float64).
    **options
        Rule options: ``window`` (tbptt), ``chunk`` (e-prop, mdgl), ``feedback`` / ``feedback_seed``
        (eprop-random, fa), ``learning_signal`` / ``learning_signal_init`` (eprop, for
        verification), ``mu`` / ``cell_types`` (modprop), ``cell_types`` / ``modulatory`` (mdgl).

    Returns
    -------
    dict
        Same keys and shapes as ``model.params``, float64.

    Examples
    --------
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> g = gradients(m, b, rule="bptt"); g["W_in"].shape
    (6, 2)
    """
    return value_and_gradients(model, batch, rule, params=params, noise=noise, dtype=dtype, **options)[1]


__all__ = ["RULES", "DALE_RULES", "FLOAT32_RULES", "check_rule_dtype", "gradients", "value_and_gradients", "random_feedback", "bptt", "eprop", "tbptt",
           "rtrl", "modprop", "mdgl", "feedback_alignment", "check_rule"]
