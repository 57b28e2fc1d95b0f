"""How long ``neurosim --help`` and each sub-command's ``--help`` take, against ``import neurosim``.

Each case runs in a fresh interpreter (``python -m neurosim ...``), the cases interleaved; the script
prints the median wall time of each (target: <= 1 s) and its ratio to a bare ``import neurosim``
(the package face: numpy, pandas, xarray), which every command pays. The sub-commands import the
experiments (scipy.stats, scikit-learn, matplotlib) only when they run, so the help costs about
the package face alone.

    python benchmarks/cli_help.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "import neurosim": ["-c", "import neurosim"],
    "neurosim --help": ["-m", "neurosim", "--help"],
    "neurosim train --help": ["-m", "neurosim", "train", "--help"],
    "neurosim reproduce --help": ["-m", "neurosim", "reproduce", "--help"],
    "neurosim curvature --help": ["-m", "neurosim", "curvature", "--help"],
    "neurosim datasets verify --help": ["-m", "neurosim", "datasets", "verify", "--help"],
}
# bytecode caches are allowed, as in a normal installation (see benchmarks/import_time.py)
_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(REPO)}


def _once(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=_ENV, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="runs of each case (interleaved)")
    args = p.parse_args(argv)
    for case in CASES.values():  # warm the file cache and the bytecode caches
        _once(case)
    times = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, case in CASES.items():
            times[name].append(_once(case))
    base = statistics.median(times["import neurosim"])
    for name, v in times.items():
        med = statistics.median(v)
        print(f"{name:34s} median {med:.3f} s   (min {min(v):.3f}, max {max(v):.3f}, {len(v)} runs)   "
              f"x{med / base:.2f} of import neurosim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
