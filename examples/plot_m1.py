"""Look at the M1 recordings next to two reference models: trajectories in PCs, RDMs and MDS.

    python examples/plot_m1.py                    # PNGs into ./figures
    python examples/plot_m1.py out/ --window -600 400 [--data PATH]   # --data: your own copy

Draws, for the Hatsopoulos 2007 M1 data (8 reach directions, 0 ms = movement onset):

* ``pcs_condition_average.png`` — the condition-average baseline (every direction replaced by the
  mean over directions) and the data in the data's top 3 PCs after the fitted Procrustes
  rotation: the baseline collapses all directions onto one trajectory;
* ``pcs_random_rnn.png`` — an untrained 200-unit LeakyRNN on the reaching task built from the
  recorded kinematics, in the same view;
* ``rdm_m1.png``, ``rdm_random_rnn.png`` — the correlation RDMs of the 8 directions;
* ``mds_m1.png`` — classical MDS of the M1 RDM (the directions form a ring).

Needs matplotlib (``pip install "neurosim[plots]"``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import neurosim
from neurosim.baselines import condition_average
from neurosim.plot import condition_rdm, mds_conditions, rdm_heatmap, save_figure, trajectories_in_pcs
from neurosim.rnn import LeakyRNN, activity
from neurosim.rnn.tasks import CenterOutReach


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("out", nargs="?", default="figures", help="folder the PNGs are written to")
    ap.add_argument("--data", default=None,
                    help="your own copy of the recordings (folder or file; default: $NEUROSIM_DATA, the user "
                         "cache, else the verified copy that ships inside the package)")
    ap.add_argument("--window", nargs=2, type=float, default=(-600.0, 400.0), metavar=("START", "STOP"),
                    help="data time range in ms (0 = movement onset)")
    ap.add_argument("--n-rec", type=int, default=200, help="units of the random LeakyRNN")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random LeakyRNN")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window = tuple(args.window)

    source = neurosim.datasets.find("hatsopoulos2007", path=args.data)
    print(f"loading hatsopoulos2007 from {source} ...", flush=True)
    ds = neurosim.datasets.load("hatsopoulos2007", path=source)
    data = ds["rates"]
    task = CenterOutReach.from_dataset(ds)
    rnn = activity(LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=args.seed), task)
    onset = "0 ms = movement onset"
    written = []

    def save(fig, name):
        written.append(save_figure(fig, out / name, dpi=120))
        print(f"wrote {written[-1]}", flush=True)

    save(trajectories_in_pcs(condition_average(data), data, window=window, alignment=onset,
                             model_label="condition-average baseline", data_label="M1"), "pcs_condition_average.png")
    save(trajectories_in_pcs(rnn, data, window=window, alignment=onset,
                             model_label=f"untrained LeakyRNN (N={args.n_rec})", data_label="M1"), "pcs_random_rnn.png")
    save(rdm_heatmap(condition_rdm(data, window=window), title="M1: correlation RDM of reach directions"),
         "rdm_m1.png")
    save(rdm_heatmap(condition_rdm(rnn, window=window), title=f"untrained LeakyRNN (N={args.n_rec})"),
         "rdm_random_rnn.png")
    save(mds_conditions(data, window=window, title="M1 reach directions, correlation RDM"),
         "mds_m1.png")
    return written


if __name__ == "__main__":
    main()
