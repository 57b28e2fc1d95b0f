"""How long ``import neurosim`` takes against importing numpy, scipy, pandas and xarray.

Each case runs in a fresh interpreter (``python -c``), the two cases interleaved, and the script
prints the median wall time of each and their ratio (target: ≤ 1.15). Heavy optional modules
(scikit-learn, scipy.optimize / linalg / sparse, matplotlib, dask) are imported only where a
function needs them, so they do not count here.

    python benchmarks/import_time.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CASES = {
    "numpy + scipy + pandas + xarray": "import numpy, scipy, pandas, xarray",
    "import neurosim": "import neurosim",
}


# bytecode caches are allowed (as in a normal installation): with PYTHONDONTWRITEBYTECODE set,
# neurosim's own modules would be compiled from source at every import while the dependencies
# come precompiled from site-packages
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _once(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_ENV)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15, help="runs of each case (interleaved)")
    args = p.parse_args(argv)
    for code in CASES.values():  # warm the file cache (and write the bytecode caches)
        _once(code)
    times = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, code in CASES.items():
            times[name].append(_once(code))
    med = {name: statistics.median(v) for name, v in times.items()}
    for name, v in times.items():
        print(f"{name:34s} median {med[name]:.3f} s   (min {min(v):.3f}, max {max(v):.3f}, {len(v)} runs)")
    base, ours = med["numpy + scipy + pandas + xarray"], med["import neurosim"]
    print(f"ratio import neurosim / dependencies: {ours / base:.2f}  (target <= 1.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
