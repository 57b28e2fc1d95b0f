"""Score any activity array against the Hatsopoulos M1 recordings, with baseline and ceiling.

    python examples/score_against_m1.py                       # built-in demo (random projection of M1)
    python examples/score_against_m1.py activity.nc           # a trajectory DataArray saved with neurosim.io.save
    python examples/score_against_m1.py rates.npy --dims unit,time,condition --t0 -800 --dt 10

Prints the angular Procrustes distance (normalized to [0, 1], the e-prop paper's measure) between
the activity and the M1 data, the condition-average baseline, the split-half ceiling and the
normalized distance (d - ceiling) / (1 - ceiling); optionally leave-one-condition-out CV and a
bootstrap interval. The M1 recordings ship inside the package; --data (or $NEUROSIM_DATA) points
at your own copy instead.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import neurosim
from neurosim import datasets
from neurosim.baselines import condition_average, normalized_distance, split_half_ceiling




def demo_model(m1, n_units: int = 100, seed: int = 0):
    """A stand-in "model": rectified random projection of the data plus noise, on its own units."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m1.sizes["unit"], n_units)) / np.sqrt(m1.sizes["unit"])
    act = np.tanh((m1.values - m1.values.mean((0, 1))) @ W / 10.0)
    act = act + 0.05 * rng.normal(size=act.shape)
    return neurosim.trajectories(act, conditions=m1["condition"].values, time=m1["time"].values,
                                 attrs={"model": f"demo: tanh of a random {n_units}-unit projection of M1"})


def read_activity(path: str, dims: str, t0: float | None, dt: float | None, m1):
    if path.endswith(".nc"):
        obj = neurosim.io.load(path)
        return obj["rates"] if hasattr(obj, "data_vars") else obj
    arr = np.load(path, allow_pickle=False)
    names = tuple(d.strip() for d in dims.split(","))
    if dt is not None:
        axis = names.index("time")
        start = m1["time"].values[0] if t0 is None else t0
        time = start + dt * np.arange(arr.shape[axis])
        return neurosim.trajectories(arr, dims=names, conditions=m1["condition"].values, time=time)
    return arr  # plain array: takes M1's condition labels and time bins by position


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("activity", nargs="?", help=".nc (neurosim.io) or .npy file; omit for the demo")
    p.add_argument("--data", default=None,
                    help="your own copy of the recordings (default: $NEUROSIM_DATA, the user cache, else the "
                         "verified copy that ships inside the package)")
    p.add_argument("--dims", default="condition,time,unit", help="axis names of a .npy array")
    p.add_argument("--t0", type=float, default=None, help="time of the first bin of a .npy array (ms)")
    p.add_argument("--dt", type=float, default=None, help="bin width of a .npy array (ms)")
    p.add_argument("--window", type=float, nargs=2, default=None, metavar=("START", "STOP"),
                   help="data time window in ms (default: all 121 bins, -800..400)")
    p.add_argument("--lag", type=float, default=0.0, help="model time t corresponds to data time t + lag (ms)")
    p.add_argument("--cv", action="store_true", help="also report leave-one-condition-out CV")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples of conditions (0 = none)")
    p.add_argument("--n-splits", type=int, default=100, help="split-half draws for the ceiling")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    m1 = datasets.load("hatsopoulos2007", args.data)["rates"]
    if args.activity is None:
        model, dims = demo_model(m1, seed=args.seed), None
        print("model: built-in demo (random projection of the M1 data; not a trained network)")
    else:
        model = read_activity(args.activity, args.dims, args.t0, args.dt, m1)
        dims = tuple(d.strip() for d in args.dims.split(",")) if isinstance(model, np.ndarray) else None
        print(f"model: {args.activity}")

    opts = dict(metric="procrustes", normalize=True, window=args.window)
    d = neurosim.compare(model, m1, lag=args.lag, dims=dims, seed=args.seed,
                         bootstrap=args.bootstrap or None, **opts)
    base = neurosim.compare(condition_average(m1), m1, **opts)
    ceil = split_half_ceiling(m1, n_splits=args.n_splits, seed=args.seed, normalize=True, window=args.window)

    lo, hi = d.settings["time_range"]
    print(f"data:  Hatsopoulos 2007 M1, {m1.sizes['condition']} directions, {d.settings['n_time']} bins "
          f"({lo:g}..{hi:g} ms re movement onset), {m1.sizes['unit']} units; model units: {d.settings['n_units_model']}")
    print("angular Procrustes distance / (pi/2)   (0 = same shape, 1 = orthogonal)")
    ci = f"   95% CI {d.ci[0]:.4f}-{d.ci[1]:.4f} ({args.bootstrap} condition resamples)" if d.ci else ""
    print(f"  model vs data                 {d.value:.4f}{ci}")
    print(f"  condition-average baseline    {base.value:.4f}")
    print(f"  split-half ceiling            {ceil.value:.4f} +/- {ceil.settings['std']:.4f} "
          f"({ceil.settings['units_per_half']} units per half, {ceil.settings['n_splits']} draws)")
    print(f"  normalized (d - ceil)/(1 - ceil) {normalized_distance(d, ceil):+.4f}   (<= 0: as close as the data to itself)")
    if args.cv:
        cv = neurosim.compare(model, m1, lag=args.lag, dims=dims, cv="loo", **opts)
        print(f"  leave-one-condition-out CV    {cv.value:.4f}  (per held-out direction: "
              + ", ".join(f"{v:.3f}" for v in cv.values) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
