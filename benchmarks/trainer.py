"""Trainer benchmarks: time per update, memory, PyTorch comparison, and accuracy reached.

    python benchmarks/trainer.py speed      # N=200, batch 100, T=300: numpy BPTT / e-prop (/ torch)
    python benchmarks/trainer.py memory     # tracemalloc peak of one gradient at two T values
    python benchmarks/trainer.py accuracy   # steps BPTT and e-prop need to reach 0.9 accuracy
                                            # on CenterOutReach and ContextDependentIntegration

Timings are ratios measured within one run (the machine may be shared); each number is the
median of several repeats. BLAS is limited to one thread (as in ``neurosim.rnn.train``); pass
``--threads N`` to change it (PyTorch gets the same number of threads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import neurosim.rnn as R
from neurosim.rnn.model import Batch


# the recordings beside a clone (../shared/data), as the tests use them; None = search order
_SIBLING = Path(__file__).resolve().parents[2] / "shared" / "data"
_SIBLING_DATA = str(_SIBLING) if _SIBLING.is_dir() else None


def _batch(B, T, I=3, O=2, seed=0):
    rng = np.random.default_rng(seed)
    return Batch(rng.normal(size=(B, T, I)), rng.normal(size=(B, T, O)), np.ones((B, T)))


def _median_time(fn, repeats):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _torch_update(model, batch, threads):
    """The same network and loss in PyTorch: ``step()`` does one autograd pass + Adam (float64) and
    returns the loss and the gradients (before the update)."""
    import torch

    torch.set_num_threads(threads)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    opt = torch.optim.Adam(p.values(), lr=1e-3)
    x = torch.tensor(batch.inputs)
    y = torch.tensor(batch.targets)
    m = torch.tensor(batch.mask_full)
    a = model.alpha
    lam = model.activity_l2

    def step():
        opt.zero_grad()
        B, T, _ = x.shape
        v = p["v0"].expand(B, -1)
        r = torch.clamp(torch.tanh(v), min=0)
        drive = (a * (x @ p["W_in"].T + p["b"])).unbind(1)  # unbind: one backward, not T full-size ones
        W_T = p["W_rec"].T
        rs = []
        for t in range(T):
            v = (1 - a) * v + a * (r @ W_T) + drive[t]
            r = torch.clamp(torch.tanh(v), min=0)
            rs.append(r)
        rr = torch.stack(rs, 1)
        out = rr @ p["W_out"].T + p["b_out"]
        loss = (m * (out - y) ** 2).sum() / m.sum() + lam * (rr ** 2).mean()
        loss.backward()
        grads = {k: t.grad.detach().numpy().copy() for k, t in p.items()}
        opt.step()
        return float(loss.detach()), grads

    return step


def speed(args):
    N, B, T = 200, 100, 300
    model = R.LeakyRNN(3, N, 2, seed=0, activity_l2=1e-3)
    batch = _batch(B, T)
    opt = R.Adam(lr=1e-3)
    res = {}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads, user_api="blas"):
        for rule in ("bptt", "eprop"):
            for dtype in ("float64", "float32"):
                def step(rule=rule, dtype=dtype):
                    E, g = R.value_and_gradients(model, batch, rule, dtype=dtype)
                    opt.step(model.params, g)
                res[rule if dtype == "float64" else f"{rule} float32"] = _median_time(step, args.repeats)
        res["forward only"] = _median_time(lambda: model.run(batch.inputs), args.repeats)
    try:
        import torch

        # sanity check: the torch network computes the same loss and gradient as neurosim's
        small = _batch(4, 20)
        E_np, g_np = R.value_and_gradients(model, small, "bptt")
        E_t, g_t = _torch_update(model, small, args.threads)()
        err = max(np.abs(g_t[k] - g_np[k]).max() / np.abs(g_np[k]).max() for k in g_np)
        print(f"torch check (same network, T=20): |loss diff| {abs(E_t - E_np):.1e}, "
              f"max relative gradient diff {err:.1e}")
        res["torch autograd"] = _median_time(_torch_update(model, batch, args.threads), args.repeats)
    except ImportError:
        print("PyTorch not installed (pip install torch==2.13.0 for the comparison)")
    print(f"time per update, N={N}, batch {B}, T={T}, float64 unless noted, {args.threads} BLAS thread(s), "
          f"median of {args.repeats}:")
    for k, v in res.items():
        print(f"  {k:16s} {v * 1000:8.1f} ms")
    print(f"  e-prop / BPTT         = {res['eprop'] / res['bptt']:.2f}")
    for rule in ("bptt", "eprop"):
        print(f"  {rule} float64 / float32 = {res[rule] / res[f'{rule} float32']:.2f}")
    if "torch autograd" in res:
        print(f"  numpy BPTT / torch    = {res['bptt'] / res['torch autograd']:.2f}")
    return res


def memory(args):
    N, B = 200, 100
    model = R.LeakyRNN(3, N, 2, seed=0)
    print(f"tracemalloc peak of one gradient (N={N}, batch {B}; the batch itself excluded):")
    for rule in ("eprop", "bptt"):
        peaks = []
        for T in (100, 400):
            batch = _batch(B, T)
            R.gradients(model, batch, rule)
            tracemalloc.start()
            R.gradients(model, batch, rule)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        print(f"  {rule:6s} T=100: {peaks[0] / 1e6:7.2f} MB   T=400: {peaks[1] / 1e6:7.2f} MB   "
              f"ratio {peaks[1] / peaks[0]:.2f}")


def accuracy(args):
    from neurosim.rnn.tasks import CenterOutReach, ContextDependentIntegration

    tasks = {}
    if "cdi" in args.tasks:
        tasks["context-dependent-integration"] = ContextDependentIntegration()
    if "center-out" in args.tasks:
        from neurosim.datasets import load

        tasks["center-out"] = CenterOutReach.from_dataset(load("hatsopoulos2007", path=args.data))
    every = args.every
    marks = sorted(set(range(0, min(100, args.steps), 5)) | set(range(0, args.steps + 1, every)) | {args.steps})
    levels = (0.8, 0.9, 0.95, 0.99)
    print(f"N={args.n_rec}, batch {args.batch_size}, lr {args.lr}, Adam, activity_l2 {args.l2}, seed {args.seed}; "
          f"accuracy on the noise-free condition set every 5 steps up to 100, then every {every}; "
          "'stays' = first checkpoint from which all later ones are at or above the level")
    for name, task in tasks.items():
        for rule in args.rules:
            model = R.LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=args.seed, activity_l2=args.l2)
            t = time.perf_counter()
            run = R.train(model, task, rule, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                          seed=args.seed, checkpoints=marks, progress=False,
                          out=f"{args.out}/{name}-{rule}-lr{args.lr:g}.nc" if args.out else None)
            dt = time.perf_counter() - t
            ck = run.checkpoints
            acc = ck["accuracy"].to_numpy()
            steps = ck["step"].to_numpy()
            parts = []
            for lv in levels:
                ok = acc >= lv
                first = int(steps[ok][0]) if ok.any() else None
                stay = next((int(steps[i]) for i in range(len(ok)) if ok[i:].all()), None)
                parts.append(f"{lv:.2f}: {first}/{stay}")
            print(f"  {name:30s} {rule:6s} steps to accuracy (first/stays) " + ", ".join(parts)
                  + f"; final {acc[-1]:.3f}; {dt / max(args.steps, 1) * 1000:.0f} ms/update", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["speed", "memory", "accuracy", "all"], nargs="?", default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tasks", nargs="+", default=["cdi", "center-out"])
    ap.add_argument("--rules", nargs="+", default=["bptt", "eprop"])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--n-rec", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=_SIBLING_DATA,
                    help="folder of the recordings (default: ../shared/data beside this clone if present, else $NEUROSIM_DATA, else the user cache)")
    ap.add_argument("--out", default=None, help="folder for the runs' netCDF files")
    args = ap.parse_args(argv)
    if args.what in ("speed", "all"):
        speed(args)
    if args.what in ("memory", "all"):
        memory(args)
    if args.what in ("accuracy", "all"):
        accuracy(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
