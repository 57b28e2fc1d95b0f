"""Battery of bad argument values over every flag, count, seed, number and period the library takes.

Each row is one parametrised case: (argument, bad value, expected exception, regex). The regex
must match the error message and names the argument (and, for user metrics, the metric), so a
bad value can never pass silently, crash deep inside, or fail with a message that does not say
which argument to fix.  The rows are generated per kind of argument, so a new flag or count is
covered by adding its call site to one list.
"""

from __future__ import annotations

import ast
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim import baselines, compare, pairwise
from neurosim.compare import align
from neurosim.compare import prepare as compare_prepare
from neurosim.metrics import (
    ShapeMetric,
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    compare_rdms,
    dsa_compare,
    dsa_distance,
    measures,
    prepare,
    prepared_distance,
    procrustes_distance,
    rdm,
    rsa,
    shape_distance,
)
from neurosim.rnn.tasks import ContextDependentIntegration, DelayedMatchToSample, PerceptualDecision
from neurosim.rnn.tasks.digits import Digits
from neurosim.trajectories import trajectories

RNG = np.random.default_rng(21)
X = RNG.normal(size=(24, 5))
Y = X @ RNG.normal(size=(5, 4)) + 0.5 * RNG.normal(size=(24, 4))
T3 = RNG.normal(size=(3, 30, 4)).cumsum(axis=1)  # (trajectories, time, units) for DSA


def _traj(seed: int, conditions=(0, 1, 2, 3)):
    rng = np.random.default_rng(seed)
    return trajectories(rng.normal(size=(4, 10, 6)), conditions=list(conditions), time=np.arange(10) * 10.0)


TM, TD = _traj(1), _traj(2)
TDT = TD.expand_dims(trial=3, axis=3).copy(data=np.random.default_rng(3).normal(size=(4, 10, 6, 3)))


def _masked(A):
    M = np.ma.masked_array(A, mask=np.zeros(np.shape(A), dtype=bool))
    M[(0,) * np.ndim(A)] = np.ma.masked
    return M


def _train(**kw):
    task = PerceptualDecision()
    model = R.LeakyRNN(task.n_in, 4, task.n_out, seed=0)
    args = dict(steps=2, batch_size=2, progress=False)
    args.update(kw)
    return R.train(model, task, **args)


def _rows(sites, values, exc, pattern):
    """Rows for every (site, value): ``sites`` maps an argument label to ``call(value)``."""
    out = []
    for label, (name, call) in sites.items():
        for v in values:
            out.append((f"{label}={v!r}", lambda call=call, v=v: call(v), exc, pattern(name)))
    return out


# ----------------------------------------------------------------------------- strict booleans
FLAG_SITES = {
    "procrustes.center": ("center", lambda v: procrustes_distance(X, Y, center=v)),
    "procrustes.normalize": ("normalize", lambda v: procrustes_distance(X, Y, normalize=v)),
    "shape.center": ("center", lambda v: shape_distance(X, Y, alpha=0.5, center=v)),
    "shape.normalize": ("normalize", lambda v: shape_distance(X, Y, alpha=0.5, normalize=v)),
    "cca_distance.center": ("center", lambda v: cca_distance(X, Y, center=v)),
    "cca_distance.normalize": ("normalize", lambda v: cca_distance(X, Y, normalize=v)),
    "prepare.center": ("center", lambda v: prepare(X, center=v)),
    "prepared_distance.normalize": ("normalize", lambda v: prepared_distance(prepare(X), prepare(Y), normalize=v)),
    "ShapeMetric.center": ("center", lambda v: ShapeMetric(center=v).fit(X, Y)),
    "ShapeMetric.normalize": ("normalize", lambda v: ShapeMetric(normalize=v).fit(X, Y)),
    "canonical_correlations.center": ("center", lambda v: canonical_correlations(X, Y, center=v)),
    "cca_similarity.center": ("center", lambda v: cca_similarity(X, Y, center=v)),
    "cka.debiased": ("debiased", lambda v: cka(X, Y, debiased=v)),
    "compare.resample": ("resample", lambda v: compare(TM, TD, resample=v)),
    "compare.fast": ("fast", lambda v: compare(TM, TD, fast=v)),
    "compare.normalize": ("normalize", lambda v: compare(TM, TD, normalize=v)),
    "compare.cv-shuffle": (r"cv\['shuffle'\]", lambda v: compare(TM, TD, cv={"folds": 2, "shuffle": v})),
    "align.resample": ("resample", lambda v: align(TM, TD, resample=v)),
    "compare.prepare.resample": ("resample", lambda v: compare_prepare(TM, TD, resample=v)),
    "ceiling.fast": ("fast", lambda v: baselines.split_half_ceiling(TD, n_splits=2, fast=v)),
    "pairwise.progress": ("progress", lambda v: pairwise({"a": X, "b": 2 * X}, progress=v)),
    "pairwise.normalize": ("normalize", lambda v: pairwise({"a": X, "b": 2 * X}, normalize=v)),
    "pairwise.center": ("center", lambda v: pairwise({"a": X, "b": 2 * X}, center=v)),
    "train.resume": ("resume", lambda v: _train(resume=v)),
    "LeakyRNN.dale": ("dale", lambda v: R.LeakyRNN(3, 4, 1, dale=v)),
    "compare.prepare.keep_trials": ("keep_trials", lambda v: compare_prepare(TM, TDT, keep_trials=v)),
    "measures.aliases": ("aliases", lambda v: measures(aliases=v)),
    "mdgl.modulatory": ("modulatory", lambda v: _train(rule="mdgl", rule_options={"modulatory": v})),
    "value_and_gradients.parts": ("parts", lambda v: R.value_and_gradients(
        R.LeakyRNN(3, 4, 3), PerceptualDecision().batch(2, 0), "bptt", parts=v)),
}
FLAG_VALUES = ["no", "yes", "False", "", 0, 1, 2.5, [True]]
FLAG_CASES = _rows(FLAG_SITES, FLAG_VALUES, TypeError, lambda n: rf"{n} must be True or False")

# progress= takes True / False / None and, for the inference functions, "auto"
PROGRESS_SITES = {
    "compare.progress": ("progress", lambda v: compare(TM, TD, progress=v)),
    "ceiling.progress": ("progress", lambda v: baselines.split_half_ceiling(TD, n_splits=2, progress=v)),
    "train.progress": ("progress", lambda v: _train(progress=v)),
}
PROGRESS_CASES = (_rows(PROGRESS_SITES, ["yes", "no", "True", "Auto"], ValueError, lambda n: rf"{n} must be True")
                  + _rows(PROGRESS_SITES, [1, 0, 2.5, [True]], TypeError, lambda n: rf"{n} must be True or False"))

# ----------------------------------------------------------------------------- counts
THREAD_SITES = {
    "compare.threads": ("threads", lambda v: compare(TM, TD, threads=v)),
    "ceiling.threads": ("threads", lambda v: baselines.split_half_ceiling(TD, n_splits=2, threads=v)),
    "train.blas_threads": ("blas_threads", lambda v: _train(blas_threads=v)),
    "compare.jobs": ("jobs", lambda v: compare(TM, TD, jobs=v)),
}
THREAD_CASES = (_rows(THREAD_SITES, [0, -1, -2], ValueError, lambda n: rf"{n} must be an integer >= 1")
                + _rows(THREAD_SITES, [1.5, "2", True, [1]], TypeError, lambda n: rf"{n} must be an integer >= 1"))

SEED_SITES = {
    "compare.seed": ("seed", lambda v: compare(TM, TD, bootstrap=3, seed=v)),
    "compare.cv-seed": (r"cv\['seed'\]", lambda v: compare(TM, TD, cv={"folds": 2, "shuffle": True, "seed": v})),
    "ceiling.seed": ("seed", lambda v: baselines.split_half_ceiling(TD, n_splits=2, seed=v)),
    "dsa.seed": ("seed", lambda v: dsa_distance(T3, T3[::-1], n_delays=2, rank=3, seed=v)),
    "train.seed": ("seed", lambda v: _train(seed=v)),
    "LeakyRNN.seed": ("seed", lambda v: R.LeakyRNN(3, 4, 1, seed=v)),
}
SEED_CASES = (_rows(SEED_SITES, [-1, -(2**40)], ValueError, lambda n: rf"{n} must be a.*(integer|>= 0)")
              + _rows(SEED_SITES, [1.5, "3", True], TypeError, lambda n: rf"{n} must be a.*integer"))

COUNT_CASES = (
    _rows({"compare.permutations": ("permutations", lambda v: compare(TM, TD, permutations=v))},
          [0, -1, 2.5, "10", True], ValueError, lambda n: rf"{n} must be a positive int")
    + _rows({"ceiling.n_splits": ("n_splits", lambda v: baselines.split_half_ceiling(TD, n_splits=v)),
             "pairwise.block_size": ("block_size", lambda v: pairwise({"a": X, "b": 2 * X}, block_size=v)),
             "dsa.n_delays": ("n_delays", lambda v: dsa_distance(T3, T3[::-1], n_delays=v, rank=3)),
             "dsa.rank": ("rank", lambda v: dsa_distance(T3, T3[::-1], n_delays=2, rank=v)),
             "dsa.n_restarts": ("n_restarts", lambda v: dsa_distance(T3, T3[::-1], n_delays=2, rank=3, n_restarts=v)),
             "cc.n_components": ("n_components", lambda v: canonical_correlations(X, Y, n_components=v))},
            [2.5, "3", True], TypeError, lambda n: rf"{n} must be an integer")
    + _rows({"compare.cv-folds": ("cv folds", lambda v: compare(TM, TD, cv={"folds": v}))},
            [1, 0, 2.5, "3", True], ValueError, lambda n: rf"{n} must be an int >= 2")
    + _rows({"compare.window": ("window", lambda v: compare(TM, TD, window=v))},
            ["a", 5, (10.0,), ("a", "b")], TypeError, lambda n: rf"{n} must be a \(start, stop\) pair")
    + _rows({"compare.window": ("window", lambda v: compare(TM, TD, window=v))},
            [(np.nan, 50.0), (50.0, 10.0), (0.0, np.inf)], ValueError, lambda n: rf"{n} must be finite")
)

BOOTSTRAP_CASES = (
    _rows({"bootstrap.n": (r"bootstrap\['n'\]", lambda v: compare(TM, TD, bootstrap={"n": v}))},
          [2.9, "abc", None, True, 10.0, [5]], TypeError, lambda n: rf"{n} must be an integer >= 2")
    + _rows({"bootstrap.n": (r"bootstrap\['n'\]", lambda v: compare(TM, TD, bootstrap={"n": v}))},
            [1, 0, -3], ValueError, lambda n: rf"{n} must be an integer >= 2")
    + _rows({"bootstrap.ci": (r"bootstrap\['ci'\]", lambda v: compare(TM, TD, bootstrap={"n": 3, "ci": v}))},
            [0, 1, 1.5, -0.5, np.nan, np.inf], ValueError, lambda n: rf"{n} must be")
    + _rows({"bootstrap.ci": (r"bootstrap\['ci'\]", lambda v: compare(TM, TD, bootstrap={"n": 3, "ci": v}))},
            ["95%", True, None], TypeError, lambda n: rf"{n} must be a real number")
)

# ----------------------------------------------------------------------------- real numbers
ALPHA_SITES = {
    "shape_distance.alpha": ("alpha", lambda v: shape_distance(X, Y, alpha=v)),
    "prepare.alpha": ("alpha", lambda v: prepare(X, alpha=v)),
    "ShapeMetric.alpha": ("alpha", lambda v: ShapeMetric(alpha=v).fit(X, Y)),
    "pairwise.alpha": ("alpha", lambda v: pairwise({"a": X, "b": 2 * X}, metric="shape", alpha=v)),
    "compare.alpha": ("alpha", lambda v: compare(TM, TD, metric="shape", alpha=v)),
}
ALPHA_CASES = (_rows(ALPHA_SITES, ["0.5", "1", True, False, [0.5]], TypeError, lambda n: rf"{n} must be a number")
               # pairwise's alpha=None means "the metric's own alpha"; elsewhere None is refused
               + _rows({k: v for k, v in ALPHA_SITES.items() if k != "pairwise.alpha"}, [None], TypeError,
                       lambda n: rf"{n} must be a number")
               + _rows(ALPHA_SITES, [np.nan, -0.1, 1.1, np.inf], ValueError, lambda n: rf"{n} must lie in \[0, 1\]"))

LAG_SITES = {
    "compare.lag": ("lag", lambda v: compare(TM, TD, lag=v)),
    "align.lag": ("lag", lambda v: align(TM, TD, lag=v)),
    "compare.prepare.lag": ("lag", lambda v: compare_prepare(TM, TD, lag=v)),
}
LAG_CASES = (_rows(LAG_SITES, [None, "ten", "10", True, [1.0]], TypeError, lambda n: rf"{n} must be a real number")
             + _rows(LAG_SITES, [np.nan, np.inf, -np.inf], ValueError, lambda n: rf"{n} must be a finite number"))

NORMALIZED_CASES = (
    _rows({"normalized_distance.d": ("d", lambda v: baselines.normalized_distance(v, 0.4))},
          [-0.2, -1e-9, 1.2, 7.0], ValueError, lambda n: rf"{n} must be a normalized distance in \[0, 1\]")
    + _rows({"normalized_distance.ceiling": ("ceiling", lambda v: baselines.normalized_distance(0.5, v))},
            [-0.1, -3.0], ValueError, lambda n: rf"{n} must be a normalized distance in \[0, 1\]")
    + _rows({"normalized_distance.ceiling": ("ceiling", lambda v: baselines.normalized_distance(0.5, v))},
            [1.0, 1.5], ValueError, lambda n: rf"the {n} must be < 1")
)

DSA_CASES = (
    _rows({"dsa.tol": ("tol", lambda v: dsa_distance(T3, T3[::-1], n_delays=2, rank=3, tol=v))},
          [0.0, -1e-8, np.nan, np.inf], ValueError, lambda n: rf"{n} must be")
    + _rows({"dsa.tol": ("tol", lambda v: dsa_distance(T3, T3[::-1], n_delays=2, rank=3, tol=v))},
            ["1e-8", None, True], TypeError, lambda n: rf"{n} must be a real number")
)

NUMBER_SITES = {
    "canonical_correlations.reg": ("reg", lambda v: canonical_correlations(X, Y, reg=v)),
    "cca_similarity.reg": ("reg", lambda v: cca_similarity(X, Y, reg=v)),
    "cka.sigma": ("sigma", lambda v: cka(X, Y, kernel="rbf", sigma=v)),
}
NUMBER_CASES = (
    _rows(NUMBER_SITES, ["0.5", True, [1.0], 1j], TypeError, lambda n: rf"{n} must be a real number")
    + _rows(NUMBER_SITES, [-1.0, np.nan, np.inf], ValueError, lambda n: rf"{n} must be")
    + _rows({"cka.sigma": NUMBER_SITES["cka.sigma"]}, [0.0], ValueError, lambda n: rf"{n} must be > 0")
    + _rows({"svcca.keep": ("keep", lambda v: cca_similarity(X, Y, "svcca", keep=v))},
            ["0.9", True, False, [0.9], 1j], TypeError, lambda n: rf"{n} must be a variance fraction")
    + _rows({"svcca.keep": ("keep", lambda v: cca_similarity(X, Y, "svcca", keep=v))},
            [0.0, 1.5, -0.1, np.nan, 0, 99], ValueError, lambda n: rf"{n}")
    + _rows({"train.rule_options": ("rule_options", lambda v: _train(rule_options=v))},
            ["window=5", [("window", 5)], 5], TypeError, lambda n: rf"{n} must be a dict")
)

# ----------------------------------------------------------------------------- user metrics
METRIC_RETURNS = [np.nan, np.inf, -np.inf]
METRIC_BAD_TYPES = ["abc", None, [0.1, 0.2], np.array([0.1, 0.2]), True, 1j]


def nan_metric(a, b):
    return float("nan")


def _returning(v):
    def my_metric(a, b):
        return v
    return my_metric


class _Estimator:
    def __init__(self, value=np.nan):
        self.value = value

    def fit(self, X, Y):
        return self

    def score(self, X, Y):
        return self.value


METRIC_SITES = {
    "compare.metric": ("my_metric", lambda v: compare(TM, TD, metric=_returning(v))),
    "compare.metric-cv": ("_Estimator", lambda v: compare(TM, TD, metric=_Estimator(v), cv=2)),
    "pairwise.metric": ("my_metric", lambda v: pairwise({"a": X, "b": 2 * X, "c": Y}, metric=_returning(v))),
    "ceiling.metric": ("my_metric", lambda v: baselines.split_half_ceiling(TD, metric=_returning(v), n_splits=2)),
}
METRIC_CASES = (_rows(METRIC_SITES, METRIC_RETURNS, ValueError, lambda n: rf"metric '{n}' returned .*finite number")
                + _rows(METRIC_SITES, METRIC_BAD_TYPES, TypeError, lambda n: rf"metric '{n}' returned .*one real"))

# ----------------------------------------------------------------------------- masked arrays, labels
MASKED_CASES = [
    ("masked:procrustes", lambda: procrustes_distance(_masked(X), Y), TypeError, r"X is a masked array"),
    ("masked:shape-Y", lambda: shape_distance(X, _masked(Y), alpha=0.3), TypeError, r"Y is a masked array"),
    ("masked:cca", lambda: cca_distance(_masked(X), Y), TypeError, r"X is a masked array"),
    ("masked:cc", lambda: canonical_correlations(X, _masked(Y)), TypeError, r"Y is a masked array"),
    ("masked:cka", lambda: cka(_masked(X), Y), TypeError, r"X is a masked array"),
    ("masked:rsa", lambda: rsa(_masked(X), Y), TypeError, r"X .* is a masked array"),
    ("masked:prepare", lambda: prepare(_masked(X)), TypeError, r"X is a masked array"),
    ("masked:dsa-X", lambda: dsa_distance(_masked(T3), T3, n_delays=2, rank=3), TypeError, r"X is a masked array"),
    ("masked:dsa-Y", lambda: dsa_distance(T3, _masked(T3), n_delays=2, rank=3), TypeError, r"Y is a masked array"),
    ("masked:dsa_compare", lambda: dsa_compare(_masked(np.eye(3)), np.eye(3)), TypeError, r"F is a masked array"),
    ("masked:compare-model", lambda: compare(_masked(TM.values), TD, dims=("condition", "time", "unit")),
     TypeError, r"model is a masked array.*filled"),
    ("masked:compare-data", lambda: compare(TM, _masked(TD.values), dims=("condition", "time", "unit")),
     TypeError, r"data is a masked array"),
    ("masked:trajectories", lambda: trajectories(_masked(TM.values), time=TM.time.values), TypeError,
     r"array is a masked array.*array\.filled"),
    ("masked:pairwise", lambda: pairwise({"a": X, "b": _masked(Y)}), TypeError, r"collection\['b'\] is a masked"),
    ("masked:compare_rdms", lambda: compare_rdms(_masked(RNG.random(6)), RNG.random(6)), TypeError,
     r"a is a masked array"),
    ("masked:rdm", lambda: rdm(_masked(X)), TypeError, r"masked array"),
]
LABEL_CASES = [
    ("labels:nan-model", lambda: compare(_traj(1, (0.0, 1.0, 2.0, np.nan)), _traj(2, (0.0, 1.0, 2.0, 3.0))),
     ValueError, r"model's condition labels contain 1 missing value.*position\(s\) \[3\]"),
    ("labels:nan-data", lambda: compare(_traj(1, (0.0, 1.0, 2.0, 3.0)), _traj(2, (np.nan, 1.0, 2.0, 3.0))),
     ValueError, r"data's condition labels contain 1 missing"),
    ("labels:nan-both", lambda: compare(_traj(1, (0.0, 1.0, np.nan, 3.0)), _traj(2, (0.0, 1.0, np.nan, 3.0))),
     ValueError, r"condition labels contain 1 missing value.*give every condition a real label"),
    ("labels:None", lambda: compare(_traj(1, ("a", "b", None, "d")), _traj(2, ("a", "b", "c", "d"))),
     ValueError, r"model's condition labels contain 1 missing"),
]

# ----------------------------------------------------------------------------- the trainer
MODEL_NUMBERS = {f"LeakyRNN.{n}": (n, (lambda n: lambda v: R.LeakyRNN(3, 4, 1, **{n: v}))(n))
                 for n in ("tau", "dt", "g0", "exc_fraction", "connectivity", "noise_std", "activity_l2")}
MODEL_CASES = (_rows(MODEL_NUMBERS, [np.nan, np.inf], ValueError, lambda n: rf"{n} must be a finite number")
               + _rows(MODEL_NUMBERS, ["1", None, True], TypeError, lambda n: rf"{n} must be a real number")
               + _rows({k: MODEL_NUMBERS[k] for k in ("LeakyRNN.g0", "LeakyRNN.noise_std", "LeakyRNN.activity_l2")},
                       [-1.0, -1e-12], ValueError, lambda n: rf"{n} must be non-negative"))

RULE_CASES = (
    _rows({"modprop.mu": ("mu", lambda v: _train(rule="modprop", rule_options={"mu": v}))},
          [-1.0, -1e-9, np.nan, np.inf], ValueError, lambda n: rf"{n} must be")
    + _rows({"modprop.mu": ("mu", lambda v: _train(rule="modprop", rule_options={"mu": v}))},
            [None, True, [0.5]], TypeError, lambda n: rf"{n} must be a real number")
    + _rows({"modprop.mu": ("mu", lambda v: _train(rule="modprop", rule_options={"mu": v}))},
            ["approx", "EXACT"], ValueError, lambda n: rf"{n} must be a number or 'exact'")
    + _rows({"tbptt.window": ("window", lambda v: _train(rule="tbptt", rule_options={"window": v})),
             "eprop.chunk": ("chunk", lambda v: _train(rule="eprop", rule_options={"chunk": v})),
             "mdgl.chunk": ("chunk", lambda v: _train(rule="mdgl", rule_options={"chunk": v}))},
            [0, -3], ValueError, lambda n: rf"{n} must be an integer >= 1")
    + _rows({"tbptt.window": ("window", lambda v: _train(rule="tbptt", rule_options={"window": v})),
             "eprop.chunk": ("chunk", lambda v: _train(rule="eprop", rule_options={"chunk": v}))},
            [2.5, "5", True], TypeError, lambda n: rf"{n} must be an integer >= 1")
    + _rows({"eprop-random.feedback_seed": ("feedback_seed", lambda v: _train(rule="eprop-random",
                                                                             rule_options={"feedback_seed": v})),
             "fa.feedback_seed": ("feedback_seed", lambda v: _train(rule="fa", rule_options={"feedback_seed": v}))},
            [-1], ValueError, lambda n: rf"{n} must be an integer >= 0")
    + _rows({"eprop-random.feedback_seed": ("feedback_seed", lambda v: _train(rule="eprop-random",
                                                                             rule_options={"feedback_seed": v}))},
            [0.5, "1"], TypeError, lambda n: rf"{n} must be an integer >= 0")
)

CHECKPOINT_CASES = (
    _rows({"train.checkpoints": ("checkpoints", lambda v: _train(checkpoints=v))},
          [[0.5, 1.7], [0, 1.0], [True, 2], ["1"], "abc", {"a": 1}, 2.5, True], TypeError,
          lambda n: rf"{n} must be (an int|integer)")
    + _rows({"train.checkpoints": ("checkpoints", lambda v: _train(checkpoints=v))},
            [0, -1, [-1, 1], [0, 3]], ValueError, lambda n: rf"{n} must (be an integer >= 1|lie in)")
)

NOISE_ARRAY = np.full((2, PerceptualDecision().T, 4), np.nan)
TASK_SITES_SPAN = {
    "PerceptualDecision.fixation": ("fixation", lambda v: PerceptualDecision(fixation=v)),
    "PerceptualDecision.stimulus": ("stimulus", lambda v: PerceptualDecision(stimulus=v)),
    "ContextDependentIntegration.fixation": ("fixation", lambda v: ContextDependentIntegration(fixation=v)),
    "ContextDependentIntegration.stimulus": ("stimulus", lambda v: ContextDependentIntegration(stimulus=v)),
    "ContextDependentIntegration.delay": ("delay", lambda v: ContextDependentIntegration(delay=v)),
    "DelayedMatchToSample.fixation": ("fixation", lambda v: DelayedMatchToSample(fixation=v)),
    "DelayedMatchToSample.delay": ("delay", lambda v: DelayedMatchToSample(delay=v)),
}
TASK_SITES_STEPS = {
    "PerceptualDecision.decision": ("decision", lambda v: PerceptualDecision(decision=v)),
    "ContextDependentIntegration.decision": ("decision", lambda v: ContextDependentIntegration(decision=v)),
    "DelayedMatchToSample.sample": ("sample", lambda v: DelayedMatchToSample(sample=v)),
    "DelayedMatchToSample.test": ("test", lambda v: DelayedMatchToSample(test=v)),
}
TASK_SITES_EVAL = {
    "PerceptualDecision.eval_timing": ("eval_timing", lambda v: PerceptualDecision(eval_timing=v)),
    "DelayedMatchToSample.eval_timing": ("eval_timing", lambda v: DelayedMatchToSample(eval_timing=v)),
}
TASK_SITES_NOISE = {
    "PerceptualDecision.noise": ("noise", lambda v: PerceptualDecision(noise=v)),
    "ContextDependentIntegration.noise": ("noise", lambda v: ContextDependentIntegration(noise=v)),
    "DelayedMatchToSample.noise": ("noise", lambda v: DelayedMatchToSample(noise=v)),
    "Digits.noise": ("noise", lambda v: Digits(noise=v)),
}
TASK_CASES = (
    _rows(TASK_SITES_SPAN, [(-5, 10), (10, 5), (-1, -1)], ValueError, lambda n: rf"{n}(\[\d\])? must be")
    + _rows(TASK_SITES_SPAN, [(1.5, 3), ("1", "2"), (1, 2, 3), 5, "ab"], TypeError, lambda n: rf"{n}(\[\d\])? must be")
    + _rows(TASK_SITES_STEPS, [0, -1], ValueError, lambda n: rf"{n} must be an integer number of time steps >= 1")
    + _rows(TASK_SITES_STEPS, [2.5, "20", True, None], TypeError, lambda n: rf"{n} must be an integer number")
    + _rows(TASK_SITES_EVAL, [(-5, 10), (10, -1)], ValueError, lambda n: rf"{n}\[\d\] .* must be an integer")
    + _rows(TASK_SITES_EVAL, [(1.5, 3), (10,), "ab", (1, 2, 3)], TypeError, lambda n: rf"{n}(\[\d\])? .*(must|integer)")
    + _rows({"PerceptualDecision.eval_timing": ("eval_timing", lambda v: PerceptualDecision(eval_timing=v))},
            [(10, 0)], ValueError, lambda n: rf"{n}\[1\] \(stimulus\) must be an integer number of time steps >= 1")
    + _rows(TASK_SITES_NOISE, [np.nan, np.inf, -1.0], ValueError, lambda n: rf"{n} must be >= 0 and finite")
    + _rows(TASK_SITES_NOISE, ["0.1", None, True], TypeError, lambda n: rf"{n} must be a number >= 0")
    + [("Digits.split_seed=-1", lambda: Digits(split_seed=-1), ValueError, r"split_seed must be an integer >= 0"),
       ("Digits.test_fraction='0.3'", lambda: Digits(test_fraction="0.3"), TypeError, r"test_fraction must be"),
       ("PerceptualDecision.coherences=nan", lambda: PerceptualDecision(coherences=[0.1, np.nan]), ValueError,
        r"coherences must be positive"),
       ("DelayedMatchToSample.angles=inf", lambda: DelayedMatchToSample(angles=[0.0, np.inf]), ValueError,
        r"angles must be finite"),
       ("task.batch rng=-1", lambda: PerceptualDecision().batch(2, -1), ValueError, r"rng as an int seed must be >= 0"),
       ("task.batch rng=True", lambda: PerceptualDecision().batch(2, True), TypeError, r"rng must be"),
       ("random_feedback seed=-1", lambda: R.rules.random_feedback(2, 5, seed=-1), ValueError,
        r"seed \(feedback_seed\) must be an integer >= 0"),
       ("LeakyRNN.run noise=nan", lambda: R.LeakyRNN(3, 4, 3).run(np.zeros((2, PerceptualDecision().T, 3)),
                                                                  noise=NOISE_ARRAY), ValueError, r"noise contains NaN")]
)

# ----------------------------------------------------------------------------- the memory guard
MEMORY_ENV_CASES = [
    (f"NEUROSIM_MAX_MEMORY={v!r}", v) for v in ["1e400", "1e400GB", "abc", "-5", "5 parsecs", "0.5", "nan", "1e30TB",
                                                "GB", "1.5.2"]
]


def _fails_under_limit(limit: str, call, match: str):
    mp = pytest.MonkeyPatch()
    mp.setenv("NEUROSIM_MAX_MEMORY", limit)
    try:
        with pytest.raises(MemoryError, match=match):
            call()
    finally:
        mp.undo()


W = RNG.normal(size=(300, 700))   # wide: 300 samples, 700 features
TALL = RNG.normal(size=(900, 40))  # many samples, few features
STACK = RNG.random((400, 1225))    # 400 condensed RDMs of 50 conditions
LONG = RNG.normal(size=(4, 200, 30))  # DSA: a 772 x 240 Hankel matrix at n_delays=8
MEMORY_CASES = [
    ("cka linear Gram", lambda: cka(W, W[:, ::-1], debiased=True), r"linear CKA on 300 samples"),
    ("cka rbf", lambda: cka(TALL, TALL, kernel="rbf"), r"RBF CKA on 900 samples"),
    ("shape_distance", lambda: shape_distance(W, W[:, ::-1], alpha=0.5), r"shape_distance of \(300, 700\)"),
    ("procrustes wide", lambda: procrustes_distance(W, W[:, ::-1]), r"shape_distance of \(300, 700\)"),
    ("canonical_correlations", lambda: canonical_correlations(W, W[:, ::-1]), r"canonical_correlations"),
    ("cca_similarity", lambda: cca_similarity(W, W[:, ::-1]), r"cca_similarity"),
    ("ShapeMetric.fit", lambda: ShapeMetric().fit(W, W[:, ::-1]), r"ShapeMetric\.fit"),
    ("prepare", lambda: prepare(W, alpha=0.0), r"prepare of a \(300, 700\) array"),
    ("pairwise wide", lambda: pairwise({"a": W, "b": W[:, ::-1], "c": W[::-1]}), r"pairwise shape distances of 3"),
    ("compare_rdms stack", lambda: compare_rdms(STACK), r"compare_rdms\('spearman'\) of 400 x 400 RDMs"),
    ("dsa rank=None", lambda: dsa_distance(LONG, T3, n_delays=8, rank=None),
     r"DSA's rank reduction of X"),
]

# ----------------------------------------------------------------------------- all rows
BAD = (FLAG_CASES + PROGRESS_CASES + THREAD_CASES + COUNT_CASES + SEED_CASES + BOOTSTRAP_CASES + ALPHA_CASES + LAG_CASES
       + NORMALIZED_CASES + DSA_CASES + NUMBER_CASES + METRIC_CASES + MASKED_CASES + LABEL_CASES + MODEL_CASES + RULE_CASES
       + CHECKPOINT_CASES + TASK_CASES)


@pytest.mark.parametrize("call, exc, pattern", [pytest.param(c, e, p, id=i) for i, c, e, p in BAD])
def test_bad_argument_is_refused_naming_it(call, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        call()
    # the error is ours, not a bare conversion failure from deep inside numpy or float()
    assert not re.match(r"(could not convert|invalid literal|expected non-negative integer|float\(\) argument)",
                        str(info.value)), str(info.value)


@pytest.mark.parametrize("label, value", MEMORY_ENV_CASES, ids=[c[0] for c in MEMORY_ENV_CASES])
def test_invalid_memory_limit_is_refused_not_ignored(monkeypatch, label, value):
    monkeypatch.setenv("NEUROSIM_MAX_MEMORY", value)
    with pytest.raises(ValueError, match=r"NEUROSIM_MAX_MEMORY=.*(is not a size|is not a usable size)"):
        cka(X, Y)


@pytest.mark.parametrize("call, match", [pytest.param(c, m, id=i) for i, c, m in MEMORY_CASES])
def test_quadratic_allocations_are_refused_before_they_are_made(call, match):
    """At a 1 MB limit each call is refused with an estimate, having allocated (nearly) nothing."""
    tracemalloc.start()
    try:
        _fails_under_limit("1MB", call, match)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5e6, f"{peak / 1e6:.1f} MB allocated before the refusal"


def test_memory_limit_words_still_turn_the_guard_off(monkeypatch):
    for word in ("none", "0", "off"):
        monkeypatch.setenv("NEUROSIM_MAX_MEMORY", word)
        assert cka(X, Y) == pytest.approx(cka(X, Y))


def _list_length(path, name: str) -> int:
    """Entries of the list literal assigned to ``name`` (or returned by function ``name``) in ``path``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return len(node.value.elts)
        if isinstance(node, ast.FunctionDef) and node.name == name:
            ret = next(n for n in ast.walk(node) if isinstance(n, ast.Return))
            return len(ret.value.elts)
    raise AssertionError(f"{name} not found in {path}")


def test_battery_size():
    """This file and the two other batteries hold at least 600 bad-input cases together."""
    here = Path(__file__).parent
    others = (_list_length(here / "test_battery_metrics.py", "BAD")
              + _list_length(here / "test_battery_safety.py", "LIB_CASES")
              + _list_length(here / "test_battery_safety.py", "_cli_cases"))
    total = len(BAD) + len(MEMORY_ENV_CASES) + len(MEMORY_CASES) + others
    assert others >= 200 and total >= 600, (others, total)
