"""Centre-out reaching with the recorded kinematics (Hatsopoulos et al. 2007; Liu, Yang & Cueva 2025).

Trial structure, in steps of ``dt`` ms (10 ms, the recording's grid)::

    step 0 ........ cue ............. go ........ onset = go + reaction ....... T-1
    hold  1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    sin/cos angle       on from cue to the end of the trial
    target  kinematics(time_ms = (step - onset) * dt)     (held at the recording's ends)

Movement onset is the step where the target equals the recorded kinematics at 0 ms. The time axis
of every batch is ``(step - onset) * dt`` in ms, so ``0`` is movement onset by construction and a
model's activity lines up with the recording's ``time`` coordinate without any offset to remember
(the evaluation condition set has one onset for all conditions). A mismatch between this axis
and the data raises in ``neurosim.compare`` instead of silently shifting (cf. the 32-step pitfall
in SCIENCE.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurosim.rnn.model import Batch
from neurosim.rnn.tasks.base import Task, check_batch_size, check_outputs, check_rng, draw

_OUTPUTS = {"joint": ("shoulder_angle", "elbow_angle"), "hand": ("hand_x", "hand_y")}


class CenterOutReach(Task):
    """Reach to one of 8 targets: cue the angle, hold, release, then produce the recorded trajectory.

    Inputs (3): ``sin`` and ``cos`` of the reach angle (from the cue on), and a hold signal (1 until
    the go step). Outputs (2): shoulder and elbow angle (``output="joint"``) or hand position
    (``output="hand"``), the condition-averaged recorded kinematics. Loss: MSE.

    Parameters
    ----------
    kinematics : array (C, K, 2)
        Target trajectories per condition on the grid ``kin_time``.
    kin_time : array (K,)
        Time of each kinematics sample in ms relative to movement onset.
    directions : array (C,)
        Reach angle of each condition in degrees.
    conditions : sequence (C,), optional
        Condition labels (default: ``directions`` as integers), the same labels as the recording.
    dt : float
        Step in ms (default: the recording's grid step).
    cue : (int, int)
        Inclusive range of the cue step in training.
    delay : (int, int)
        Inclusive range of steps from cue to go (hold release) in training.
    reaction : int
        Steps from go to movement onset (fixed, so onset is predictable).
    after : int
        Steps simulated after onset (default: up to the recording's last sample).
    eval_timing : (int, int)
        Fixed (cue, delay) of the evaluation condition set.

    Notes
    -----
    Accuracy (Liu, Yang & Cueva 2025) = ``1 - sum(m (y - y*)^2) / sum(m (y* - mean(y*))^2)``, the
    masked squared error over the targets' masked variance (mean per output channel).

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
    """

    name = "center-out"
    n_in = 3
    n_out = 2
    loss = "mse"
    time_alignment = "movement onset"

    def __init__(self, kinematics, kin_time, directions, *, conditions=None, dt: float | None = None,
                 cue=(10, 30), delay=(30, 70), reaction: int = 10, after: int | None = None,
                 eval_timing=(20, 50), output_names=("shoulder_angle", "elbow_angle")):
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
        self.kinematics, self.kin_time, self.directions = kin, kt, d
        self.labels = (np.round(d).astype(int) if conditions is None else np.asarray(conditions))
        self.cue, self.delay, self.reaction = tuple(int(v) for v in cue), tuple(int(v) for v in delay), int(reaction)
        if self.cue[0] < 0 or self.delay[0] < 1 or self.reaction < 0:
            raise ValueError("cue >= 0, delay >= 1 and reaction >= 0 steps are required")
        self.after = int(np.floor(kt[-1] / self.dt)) if after is None else int(after)
        self.eval_timing = tuple(int(v) for v in eval_timing)
        self.output_names = tuple(output_names)
        self.T = self.cue[1] + self.delay[1] + self.reaction + self.after + 1
        self.eval_onset = self.eval_timing[0] + self.eval_timing[1] + self.reaction
        self.T_eval = self.eval_onset + self.after + 1

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dataset(cls, ds, *, output: str = "joint", **kwargs) -> "CenterOutReach":
        """Build the task from the Hatsopoulos 2007 Dataset of ``neurosim.datasets.load("hatsopoulos2007")``.

        Uses ``ds[output variables]`` (condition, time) on ``ds.time`` (ms, 0 = movement onset),
        ``ds.direction`` (degrees) and the ``condition`` labels.
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
                   output_names=names, **kwargs)

    def config(self) -> dict:
        return {"name": self.name, "kinematics": self.kinematics.tolist(), "kin_time": self.kin_time.tolist(),
                "directions": self.directions.tolist(), "conditions": self.labels.tolist(), "dt": self.dt,
                "cue": list(self.cue), "delay": list(self.delay), "reaction": self.reaction, "after": self.after,
                "eval_timing": list(self.eval_timing), "output_names": list(self.output_names)}

    # ------------------------------------------------------------------ trials
    def target(self, cond: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
        """Kinematics of conditions ``cond`` (B,) at times ``time_ms`` (B, T) relative to onset -> (B, T, 2)."""
        out = np.empty(time_ms.shape + (2,))
        for c in np.unique(cond):
            rows = cond == c
            for k in range(2):
                out[rows, :, k] = np.interp(time_ms[rows], self.kin_time, self.kinematics[c, :, k])
        return out

    def _trials(self, cond, cue, go, T):
        B = len(cond)
        t = np.arange(T)
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

    def batch(self, batch_size: int, rng) -> Batch:
        """Training batch: random condition, cue step and cue-to-go delay per trial.

        ``info["onset"]`` (B,) is each trial's movement-onset step.
        """
        B = check_batch_size(batch_size)
        rng = check_rng(rng)
        cond = rng.integers(0, len(self.directions), B)
        cue = draw(rng, self.cue, B)
        go = cue + draw(rng, self.delay, B)
        x, y, m, info = self._trials(cond, cue, go, self.T)
        return Batch(x, y, m, loss=self.loss, time=None, info=info)

    def conditions(self) -> Batch:
        """One noise-free trial per condition with onset at step ``eval_onset`` for all.

        ``time`` = ``(step - eval_onset) * dt`` ms: 0 = movement onset, on the recording's grid.
        """
        C = len(self.directions)
        cue = np.full(C, self.eval_timing[0])
        go = cue + self.eval_timing[1]
        x, y, m, info = self._trials(np.arange(C), cue, go, self.T_eval)
        time = (np.arange(self.T_eval) - self.eval_onset) * self.dt
        labels = pd.Index(self.labels, name="condition")
        info["direction"] = self.directions
        return Batch(x, y, m, loss=self.loss, time=time, conditions=labels, info=info)

    def accuracy(self, outputs, batch: Batch) -> float:
        """``1 - sum(m (y - y*)^2) / sum(m (y* - mean_m(y*))^2)`` (means per output channel)."""
        y = check_outputs(outputs, batch)
        m = batch.mask_full
        tgt = batch.targets
        mean = (m * tgt).sum((0, 1)) / m.sum((0, 1))
        var = float(np.sum(m * (tgt - mean) ** 2))
        if var <= 0:
            raise ValueError("targets have zero variance under the mask; accuracy is undefined")
        return 1.0 - float(np.sum(m * (y - tgt) ** 2)) / var
