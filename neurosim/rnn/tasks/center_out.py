"""Centre-out reaching with the recorded kinematics (Hatsopoulos et al. 2007; Liu, Yang & Cueva 2025).

Two trial designs, in 0-based steps of ``dt`` ms (10 ms, the recording's grid).

``design="liu2025"`` (the paper's generator, the default of :meth:`CenterOutReach.from_dataset`)::

    step 0 ... i1 ........ i1+22 ............... go-8 ... go-1 | go = i1+23+i2 ......... go+40 ... T-1
    sin/cos  0  bump(23 steps) 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    hold     1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1  ramp down (8)  | 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    target   0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ... kinematics -100 ms ... 0 ms (= go) ... +400 ms
    mask     1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 | 0 0 0

    The direction input is a *transient*: sin/cos of the reach angle times the 23-step bump
    ``[.05 .1 .2 .35 .65 .8 .9 .95, 1 x 7, .95 .9 .8 .65 .35 .2 .1 .05]`` on steps ``i1 .. i1+22``.
    The hold signal is 1 from step 0 to step ``go-1`` and ramps down over its last 8 steps with
    the bump's falling edge. The targets are the recorded samples from ``output_start`` (-100 ms)
    to the end of the recording (+400 ms; 51 samples), starting 10 steps before the hold release,
    so movement onset (0 ms) is the first step without hold. Targets are 0 (and count in the loss)
    before the recorded samples and the mask is 0 after them. Training: ``T = 300``,
    ``i1 ~ U{0..49}``, ``i2 ~ U{0..149}`` per trial (``cue``, ``delay``); the first ``C`` trials of
    a batch cover the ``C`` conditions once, in order, as the paper's generator does. Evaluation
    (:meth:`CenterOutReach.conditions`): one trial per direction, ``T = 250``, ``i1 = 25``,
    ``i2 = 105``: bump on steps 25..47, movement onset at step 153.

``design="sustained"`` (an ablation: the direction input stays on)::

    step 0 ........ cue ............. go ........ onset = go + reaction ....... T-1
    hold  1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    sin/cos angle       on from cue to the end of the trial
    target  kinematics(time_ms = (step - onset) * dt)     (held at the recording's ends)

    An untrained network is already direction-tuned during the delay under this design, which
    flattens the distance-to-M1 versus accuracy curve (measured with neurosim's trainer, BPTT
    N=100: 0.532 -> 0.515 sustained, 0.512 -> 0.380 with the paper's bump). Kept to show that.

Movement onset is the step where the target equals the recorded kinematics at 0 ms. The time axis
of the evaluation set is ``(step - onset) * dt`` in ms, so ``0`` is movement onset by construction
and a model's activity lines up with the recording's ``time`` coordinate without any offset to
remember. A mismatch between this axis and the data raises in ``neurosim.compare`` instead of
silently shifting. (The paper's released analysis compared model step 185 with 0 ms, 32 steps
after this task's true onset; that choice is a named alignment in ``neurosim.experiments``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch
from neurosim.rnn.tasks.base import (Task, check_batch_size, check_eval_timing, check_outputs, check_rng, check_span,
                                     check_steps, draw)

_OUTPUTS = {"joint": ("shoulder_angle", "elbow_angle"), "hand": ("hand_x", "hand_y")}
DESIGNS = ("liu2025", "sustained")
#: the paper's 23-step input bump (rising edge, plateau, falling edge)
BUMP_ON = np.array([0.05, 0.1, 0.2, 0.35, 0.65, 0.8, 0.9, 0.95])
BUMP = np.concatenate([BUMP_ON, np.ones(7), BUMP_ON[::-1]])
_DEFAULTS = {
    "liu2025": {"cue": (0, 49), "delay": (0, 149), "eval_timing": (25, 105), "T": 300, "T_eval": 250},
    "sustained": {"cue": (10, 30), "delay": (30, 70), "eval_timing": (20, 50), "reaction": 10},
}


class CenterOutReach(Task):
    """Reach to one of 8 targets: cue the angle, hold, release, then produce the recorded trajectory.

    Inputs (3): ``sin`` and ``cos`` of the reach angle and a hold signal. Outputs (2): shoulder
    and elbow angle (``output="joint"``) or hand position (``output="hand"``), the
    condition-averaged recorded kinematics. Loss: masked MSE. The two trial designs are drawn
    in the module docstring.

    Parameters
    ----------
    kinematics : array (C, K, 2)
        Target trajectories per condition on the grid ``kin_time``.
    kin_time : array (K,)
        Time of each kinematics sample in ms relative to movement onset.
    directions : array (C,)
        Reach angle of each condition in degrees.
    design : {"sustained", "liu2025"}
        Trial design (see the module docstring). ``"liu2025"`` is the paper's generator
        (:meth:`from_dataset`'s default); ``"sustained"``, the constructor's default for
        synthetic kinematics, keeps the direction input on from the cue to the end.
    conditions : sequence (C,), optional
        Condition labels (default: ``directions`` as integers), the same labels as the recording.
    dt : float
        Step in ms (default: the recording's grid step).
    cue : (int, int)
        Inclusive range of the first step of the direction input in training (``"liu2025"``: the
        paper's ``interval1``, default (0, 49); ``"sustained"``: default (10, 30)).
    delay : (int, int)
        Inclusive range in training of the steps from the end of the bump to the hold release
        (``"liu2025"``: the paper's ``interval2``, default (0, 149)) or from the cue to the hold
        release (``"sustained"``, default (30, 70)).
    reaction : int
        ``"sustained"`` only: steps from hold release to movement onset (default 10). Under
        ``"liu2025"`` onset is the hold release.
    after : int
        ``"sustained"`` only: steps simulated after onset (default: up to the recording's last
        sample).
    eval_timing : (int, int)
        Fixed (cue, delay) of the evaluation condition set (``"liu2025"``: (25, 105)).
    T, T_eval : int
        ``"liu2025"`` only: steps of a training trial (300) and of an evaluation trial (250).
    output_start : float
        ``"liu2025"`` only: time (ms) of the first recorded sample that becomes a target (-100).

    Notes
    -----
    Accuracy (Liu, Yang & Cueva 2025) = ``1 - mean_o [sum m (y_o - y*_o)^2 / sum m (y*_o -
    mean_m(y*_o))^2]``: per output channel, the masked squared error over the masked variance of
    that channel's target, averaged over the channels (0 = a constant output at the target's
    mean, below 0 worse than that, 1 = perfect).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(-800.0, 401.0, 10.0)
    >>> kin = np.stack([np.tanh(np.clip(t, 0, None) / 200.0)[None, :] * np.array([[1], [-1]])] * 2, -1)
    >>> task = CenterOutReach(kin, t, directions=[0.0, 180.0])
    >>> b = task.conditions(); b.inputs.shape, float(b.time[task.eval_onset])
    ((2, 121, 3), 0.0)
    >>> task.accuracy(b.targets, b)
    1.0
    >>> paper = CenterOutReach(kin, t, directions=[0.0, 180.0], design="liu2025")
    >>> b = paper.conditions(); b.inputs.shape, paper.eval_onset, int(b.mask[0].sum())
    ((2, 250, 3), 153, 194)
    """

    name = "center-out"
    n_in = 3
    n_out = 2
    loss = "mse"
    time_alignment = "movement onset"

    def __init__(self, kinematics, kin_time, directions, *, design: str = "sustained", conditions=None,
                 dt: float | None = None, cue=None, delay=None, reaction: int | None = None,
                 after: int | None = None, eval_timing=None, T: int | None = None, T_eval: int | None = None,
                 output_start: float = -100.0, output_names=("shoulder_angle", "elbow_angle")):
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {list(DESIGNS)}; got {design!r}")
        kin = np.asarray(kinematics, dtype=np.float64)
        kt = np.asarray(kin_time, dtype=np.float64)
        d = np.asarray(directions, dtype=np.float64)
        if kin.ndim != 3 or kin.shape[2] != 2:
            raise ValueError(f"kinematics must be (condition, time, 2); got shape {kin.shape}")
        if kt.shape != (kin.shape[1],) or np.any(np.diff(kt) <= 0):
            raise ValueError(f"kin_time must be increasing with {kin.shape[1]} values; got shape {kt.shape}")
        if d.shape != (kin.shape[0],):
            raise ValueError(f"directions must have one angle per condition ({kin.shape[0]}); got {d.shape}")
        if not (np.all(np.isfinite(kin)) and np.all(np.isfinite(kt)) and np.all(np.isfinite(d))):
            raise ValueError("kinematics, kin_time and directions must be finite (no NaN/inf)")
        if not (kt[0] <= 0 <= kt[-1]):
            raise ValueError(f"kin_time must contain movement onset (0 ms); got {kt[0]}..{kt[-1]} ms")
        steps = np.diff(kt)
        self.dt = float(steps[0]) if dt is None else float(dt)
        if not self.dt > 0:
            raise ValueError(f"dt must be positive (ms); got {dt}")
        self.design = design
        self.kinematics, self.kin_time, self.directions = kin, kt, d
        self.labels = (np.round(d).astype(int) if conditions is None else np.asarray(conditions))
        defaults = _DEFAULTS[design]
        self.cue = check_span(defaults["cue"] if cue is None else cue, "cue")
        self.delay = check_span(defaults["delay"] if delay is None else delay, "delay")
        self.eval_timing = check_eval_timing(defaults["eval_timing"] if eval_timing is None else eval_timing,
                                             {"cue": 0, "delay": 0})
        for name, val in (("reaction", reaction), ("after", after), ("T", T), ("T_eval", T_eval)):
            if val is not None:
                check_steps(val, name, 0)
        self.output_names = tuple(output_names)
        if len(self.cue) != 2 or len(self.delay) != 2 or len(self.eval_timing) != 2:
            raise ValueError("cue, delay and eval_timing must be pairs of integers")
        if self.cue[0] < 0 or self.cue[1] < self.cue[0] or self.delay[1] < self.delay[0]:
            raise ValueError(f"cue and delay must be ranges (lo <= hi) with cue >= 0; got cue={self.cue}, "
                             f"delay={self.delay}")
        if design == "sustained":
            if T is not None or T_eval is not None:
                raise ValueError("T and T_eval are set by cue, delay, reaction and after under design='sustained'")
            self.reaction = int(defaults["reaction"] if reaction is None else reaction)
            if self.delay[0] < 1 or self.reaction < 0:
                raise ValueError("delay >= 1 and reaction >= 0 steps are required")
            self.after = int(np.floor(kt[-1] / self.dt)) if after is None else int(after)
            self.output_start = None
            self.T = self.cue[1] + self.delay[1] + self.reaction + self.after + 1
            self.eval_onset = self.eval_timing[0] + self.eval_timing[1] + self.reaction
            self.T_eval = self.eval_onset + self.after + 1
        else:
            if reaction is not None or after is not None:
                raise ValueError("reaction and after belong to design='sustained'; under 'liu2025' movement "
                                 "onset is the hold release and the trial length is T / T_eval")
            if self.delay[0] < 0 or self.eval_timing[1] < 0:
                raise ValueError(f"delay (interval2) must be >= 0 steps; got {self.delay}")
            if not np.allclose(steps, self.dt):
                raise ValueError("design='liu2025' plays the recorded samples one per step: kin_time must be a "
                                 f"uniform grid with step dt={self.dt} ms")
            keep = kt >= float(output_start) - 1e-9
            if not keep.any() or float(output_start) > 0:
                raise ValueError(f"output_start must be <= 0 ms and within kin_time; got {output_start}")
            self.output_start = float(kt[keep][0])
            self.reaction = 0
            self.after = None
            self._lead = int(round(-self.output_start / self.dt))   # steps of target before onset (10)
            self._n_out = int(keep.sum())                           # recorded samples played (51)
            self._first = int(np.argmax(keep))
            self.T = 300 if T is None else int(T)
            self.T_eval = 250 if T_eval is None else int(T_eval)
            self.eval_onset = self.eval_timing[0] + len(BUMP) + self.eval_timing[1]
            longest = self.cue[1] + len(BUMP) + self.delay[1] + self._n_out - self._lead
            if longest > self.T:
                raise ValueError(f"T={self.T} steps cuts the target of the longest training trial (needs {longest})")
            if self.eval_onset + self._n_out - self._lead > self.T_eval:
                raise ValueError(f"T_eval={self.T_eval} steps cuts the evaluation targets "
                                 f"(needs {self.eval_onset + self._n_out - self._lead})")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dataset(cls, ds, *, output: str = "joint", design: str = "liu2025", **kwargs) -> "CenterOutReach":
        """Build the task from the Hatsopoulos 2007 Dataset of ``neurosim.datasets.load("hatsopoulos2007")``.

        Uses ``ds[output variables]`` (condition, time) on ``ds.time`` (ms, 0 = movement onset),
        ``ds.direction`` (degrees) and the ``condition`` labels. ``design`` defaults to the
        paper's (``"liu2025"``); ``"sustained"`` is the ablation. Other keywords go to the
        constructor.

        Examples
        --------
        >>> from neurosim.datasets import load
        >>> task = CenterOutReach.from_dataset(load("hatsopoulos2007"))  # the recordings shipped in the package
        >>> task.design, task.T, task.eval_onset
        ('liu2025', 300, 153)
        """
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {sorted(_OUTPUTS)}; got {output!r}")
        names = _OUTPUTS[output]
        missing = [n for n in (*names, "direction") if n not in ds.variables]
        if missing:
            raise ValueError(f"dataset lacks {missing}; expected the hatsopoulos2007 Dataset "
                             "(neurosim.datasets.load('hatsopoulos2007'))")
        align = ds.attrs.get("alignment", "movement onset")
        if align != "movement onset":
            raise ValueError(f"the dataset's time axis is aligned to {align!r}; CenterOutReach needs movement onset")
        kin = np.stack([ds[n].transpose("condition", "time").values for n in names], axis=-1)
        return cls(kin, ds["time"].values, ds["direction"].values, conditions=ds["condition"].values,
                   output_names=names, design=design, **kwargs)

    def config(self) -> dict:
        cfg = {"name": self.name, "design": self.design, "kinematics": self.kinematics.tolist(),
               "kin_time": self.kin_time.tolist(), "directions": self.directions.tolist(),
               "conditions": self.labels.tolist(), "dt": self.dt, "cue": list(self.cue),
               "delay": list(self.delay), "eval_timing": list(self.eval_timing),
               "output_names": list(self.output_names)}
        if self.design == "sustained":
            cfg.update(reaction=self.reaction, after=self.after)
        else:
            cfg.update(T=self.T, T_eval=self.T_eval, output_start=self.output_start)
        return cfg

    # ------------------------------------------------------------------ trials
    def target(self, cond: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
        """Kinematics of conditions ``cond`` (B,) at times ``time_ms`` (B, T) relative to onset -> (B, T, 2)."""
        out = np.empty(time_ms.shape + (2,))
        for c in np.unique(cond):
            rows = cond == c
            for k in range(2):
                out[rows, :, k] = np.interp(time_ms[rows], self.kin_time, self.kinematics[c, :, k])
        return out

    def _trials(self, cond, cue, delay, T):
        if self.design == "liu2025":
            return self._trials_liu2025(cond, cue, delay, T)
        B = len(cond)
        t = np.arange(T)
        go = cue + delay
        onset = go + self.reaction
        time_ms = (t[None, :] - onset[:, None]) * self.dt
        rad = np.deg2rad(self.directions[cond])
        cue_on = t[None, :] >= cue[:, None]
        x = np.zeros((B, T, 3))
        x[..., 0] = cue_on * np.sin(rad)[:, None]
        x[..., 1] = cue_on * np.cos(rad)[:, None]
        x[..., 2] = t[None, :] < go[:, None]
        y = self.target(cond, time_ms)
        return x, y, np.ones((B, T)), {"onset": onset, "go": go, "cue": cue, "condition_index": cond}

    def _trials_liu2025(self, cond, cue, delay, T):
        B = len(cond)
        nb = len(BUMP)
        go = cue + nb + delay                 # first step without hold = movement onset
        rad = np.deg2rad(self.directions[cond])
        x = np.zeros((B, T, 3))
        y = np.zeros((B, T, 2))
        m = np.ones((B, T))
        samples = self.kinematics[:, self._first:self._first + self._n_out]   # (C, 51, 2)
        for i in range(B):
            c0, g = int(cue[i]), int(go[i])
            x[i, c0:c0 + nb, 0] = np.sin(rad[i]) * BUMP[:max(0, min(nb, T - c0))]
            x[i, c0:c0 + nb, 1] = np.cos(rad[i]) * BUMP[:max(0, min(nb, T - c0))]
            x[i, :g, 2] = 1.0
            lo = max(g - len(BUMP_ON), 0)
            x[i, lo:g, 2] = BUMP_ON[::-1][len(BUMP_ON) - (g - lo):]
            s0 = g - self._lead
            n = max(0, min(self._n_out, T - s0))
            y[i, s0:s0 + n] = samples[cond[i], :n]
            m[i, s0 + n:] = 0.0
        return x, y, m, {"onset": go, "go": go, "cue": cue, "condition_index": cond}

    def batch(self, batch_size: int, rng) -> Batch:
        """Training batch: random condition, cue step and delay per trial.

        ``info["onset"]`` (B,) is each trial's movement-onset step. Under ``"liu2025"`` the first
        ``min(B, C)`` trials are the ``C`` conditions in order and the rest are random, as in the
        paper's generator.
        """
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        C = len(self.directions)
        cond = rng.integers(0, C, B)
        if self.design == "liu2025":
            k = min(B, C)
            cond[:k] = np.arange(k)
        cue = draw(rng, self.cue, B)
        delay = draw(rng, self.delay, B)
        x, y, m, info = self._trials(cond, cue, delay, self.T)
        return Batch(x, y, m, loss=self.loss, time=None, info=info)

    def conditions(self) -> Batch:
        """One noise-free trial per condition with onset at step ``eval_onset`` for all.

        ``time`` = ``(step - eval_onset) * dt`` ms: 0 = movement onset, on the recording's grid.
        """
        C = len(self.directions)
        cue = np.full(C, self.eval_timing[0])
        delay = np.full(C, self.eval_timing[1])
        x, y, m, info = self._trials(np.arange(C), cue, delay, self.T_eval)
        time = (np.arange(self.T_eval) - self.eval_onset) * self.dt
        labels = pd.Index(self.labels, name="condition")
        info["direction"] = self.directions
        return Batch(x, y, m, loss=self.loss, time=time, conditions=labels, info=info)

    def accuracy(self, outputs, batch: Batch) -> float:
        """``1 - mean_o [sum m (y_o - y*_o)^2 / sum m (y*_o - mean_m(y*_o))^2]`` (per output channel).

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(-800.0, 401.0, 10.0)
        >>> kin = np.stack([np.tanh(np.clip(t, 0, None) / 200.0)[None, :] * np.array([[1], [-1]])] * 2, -1)
        >>> task = CenterOutReach(kin, t, [0.0, 180.0], design="liu2025"); b = task.conditions()
        >>> mean = (b.mask[..., None] * b.targets).sum((0, 1)) / b.mask.sum()
        >>> round(task.accuracy(np.broadcast_to(mean, b.targets.shape), b), 12)
        0.0
        """
        y = check_outputs(outputs, batch)
        m = batch.mask_full
        tgt = batch.targets
        msum = m.sum((0, 1))
        if np.any(msum <= 0):
            raise ValueError("an output channel has no unmasked sample; accuracy is undefined")
        mean = (m * tgt).sum((0, 1)) / msum
        var = np.sum(m * (tgt - mean) ** 2, axis=(0, 1))
        if np.any(var <= 0):
            raise ValueError("an output channel's target has zero variance under the mask; accuracy is undefined")
        err = np.sum(m * (y - tgt) ** 2, axis=(0, 1))
        return float(1.0 - np.mean(err / var))
