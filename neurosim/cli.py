"""The ``neurosim`` command line: thin wrappers over the library.

Each sub-command parses its arguments and calls one public function; no science
lives here. ``neurosim --help`` lists the sub-commands.
"""

from __future__ import annotations

import argparse
import sys


# --- datasets (issue 3) ----------------------------------------------------
def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list, fetch or verify the real recordings")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    ls = dsub.add_parser("list", help="registered datasets, their files and where they were found")
    ls.add_argument("--path", default=None, help="data root / dataset folder to look in first")
    ls.set_defaults(func=_datasets_list)
    fe = dsub.add_parser("fetch", help="download from the pinned public source and verify sha256")
    fe.add_argument("names", nargs="*", metavar="NAME", help="datasets to fetch (default: all)")
    fe.add_argument("--dest", default=None, help="data root to download into (default: user cache)")
    fe.add_argument("--base-url", default=None, help="mirror laid out like the data root ($NEUROSIM_DATA_URL)")
    fe.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    fe.set_defaults(func=_datasets_fetch)
    ve = dsub.add_parser("verify", help="check sizes and sha256 of local copies")
    ve.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: all)")
    ve.add_argument("--path", default=None, help="data root / dataset folder to check")
    ve.set_defaults(func=_datasets_verify)


def _datasets_list(args: argparse.Namespace) -> int:
    from neurosim import datasets

    for name in datasets.names():
        info = datasets.get(name)
        try:
            where = str(datasets.find(name, args.path, verify=False))
        except FileNotFoundError:
            where = f"not found (neurosim datasets fetch {name})"
        print(f"{name}: {info.description}")
        for f in info.files:
            print(f"    {f.name}  {f.size:,} bytes  sha256 {f.sha256[:16]}…")
        print(f"    found: {where}")
    return 0


def _datasets_fetch(args: argparse.Namespace) -> int:
    from neurosim import datasets

    status = 0
    for name in args.names or datasets.names():
        try:
            path = datasets.fetch(name, dest=args.dest, base_url=args.base_url, force=args.force)
            print(f"{name}: ok -> {path}")
        except (OSError, ValueError) as err:
            print(f"{name}: FAILED: {err}", file=sys.stderr)
            status = 1
    return status


def _datasets_verify(args: argparse.Namespace) -> int:
    from neurosim import datasets

    status = 0
    for name in args.names or datasets.names():
        for file, state in datasets.verify(name, args.path).items():
            print(f"{name}/{file}: {state}")
            if state.startswith("bad") or (state == "missing" and file == datasets.get(name).canonical.name):
                status = 1
    return status
# --- end datasets -----------------------------------------------------------


# --- train (issue 4) -------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a leaky RNN on a task with a learning rule",
        description="Train neurosim.rnn.LeakyRNN with BPTT or e-prop; checkpoints go to --out "
                    "(netCDF, resumable: rerun the same command after an interruption).")
    p.add_argument("--task", default="center-out",
                   help="center-out | context-dependent-integration | perceptual-decision | "
                        "delayed-match-to-sample (default center-out)")
    p.add_argument("--rule", default="bptt", help="bptt | eprop | eprop-random | tbptt (default bptt)")
    p.add_argument("--steps", type=int, default=1000, help="Adam updates (default 1000)")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="seed of batches and noise")
    p.add_argument("--init-seed", type=int, default=0, help="seed of the weight initialization")
    p.add_argument("--n-rec", type=int, default=200)
    p.add_argument("--g0", type=float, default=1.0, help="recurrent gain: W_rec ~ N(0, (1.5 g0)^2/N)")
    p.add_argument("--tau", type=float, default=10.0, help="time constant in steps")
    p.add_argument("--activation", default="retanh", help="retanh | tanh | relu")
    p.add_argument("--activity-l2", type=float, default=1e-4, help="activity penalty weight")
    p.add_argument("--window", type=int, default=None, help="truncation window K for --rule tbptt")
    p.add_argument("--feedback-seed", type=int, default=None, help="seed of the eprop-random feedback")
    p.add_argument("--checkpoints", type=int, default=30, help="number of log-spaced checkpoints")
    p.add_argument("--clip", type=float, default=None, help="global gradient-norm clipping")
    p.add_argument("--data", default=None, help="folder of the recordings (center-out)")
    p.add_argument("--out", default=None, help="netCDF file for the run (resumes if it exists)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    try:
        return _train_command(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"neurosim train: error: {err}", file=sys.stderr)
        return 2


def _train_command(args) -> int:
    from neurosim import rnn

    task = rnn.tasks.make(args.task, data=args.data)
    model = rnn.LeakyRNN(task.n_in, args.n_rec, task.n_out, tau=args.tau, activation=args.activation,
                         g0=args.g0, seed=args.init_seed, activity_l2=args.activity_l2)
    opts = {}
    if args.window is not None:
        opts["window"] = args.window
    if args.feedback_seed is not None:
        opts["feedback_seed"] = args.feedback_seed
    run = rnn.train(model, task, args.rule, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                    seed=args.seed, checkpoints=args.checkpoints, out=args.out, rule_options=opts,
                    clip=args.clip, progress=not args.no_progress)
    print(run.checkpoints.to_string(index=False))
    if args.out:
        print(f"saved to {args.out}")
    return 0
# --- end train --------------------------------------------------------------


# --- reproduce (issue 5) ---------------------------------------------------
def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="e-prop vs BPTT similarity to M1 at matched accuracy",
        description="Train RNNs on centre-out reaching with BPTT, e-prop and random-feedback e-prop "
        "(several seeds, two initial gains) on the paper's task, compare them with the Hatsopoulos 2007 M1 "
        "recordings along training and at matched accuracy under both clock alignments (liu2025: model "
        "step 185 = 0 ms as the released analysis; onset: the task's movement onset), and write "
        "results.csv/.nc, figures and report.md. Default: about 5 minutes on 2 cores; --full: paper scale "
        "(N=200, batch 100, lr 3e-4, 1000 updates, adaptive activity penalty, 5 seeds).",
    )
    p.add_argument("--full", action="store_true", help="paper-scale run (N=200, 1000 updates, 5 seeds, g0 = 1)")
    p.add_argument("--gain-sweep", action="store_true", help="with --full: gains 0.5, 1.0 and 1.5")
    p.add_argument("--out", default="results", help="results folder (default: ./results)")
    p.add_argument("--data", default=None,
                   help="folder holding hatsopoulos2007_m1_center_out/ (default: $NEUROSIM_DATA, then the cache)")
    p.add_argument("--workers", type=int, default=None,
                   help="training processes on a local dask cluster (default: 2 if dask is installed and "
                   "there are >= 2 cores, else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_reproduce_command)


def _reproduce_command(args: argparse.Namespace) -> int:
    import os

    from neurosim.experiments.liu2025 import ReproduceConfig, reproduce

    workers = args.workers
    if workers is None:
        try:
            import dask.distributed  # noqa: F401

            workers = 2 if (os.cpu_count() or 1) >= 2 else 1
        except ImportError:
            workers = 1
    cfg = ReproduceConfig.full(gain_sweep=args.gain_sweep) if args.full else ReproduceConfig.default()
    try:
        result = reproduce(args.out, data=args.data, config=cfg, workers=max(1, workers),
                           progress=not args.quiet)
    except FileNotFoundError as exc:
        print(f"neurosim reproduce: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(result['files'])} files to {result['folder']} in {result['timings']['total']:.0f} s; "
          f"see {result['folder'] / 'report.md'}")
    return 0
# --- end reproduce ----------------------------------------------------------


# --- curvature (issue 6) ---------------------------------------------------
def _add_curvature(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curvature", help="loss-landscape curvature and generalization by rule",
        description="Train small RNNs with several learning rules over seeds and compare, at matched "
                    "accuracy, the top Hessian eigenvalue (true loss, W_rec) and generalization gaps "
                    "(Liu et al., NeurIPS 2022). Writes runs.csv, summary.txt and curvature_vs_gap.png.")
    p.add_argument("--task", default="context-dependent-integration",
                   help="context-dependent-integration | perceptual-decision | delayed-match-to-sample | "
                        "center-out (timing held-out set only) (default context-dependent-integration)")
    p.add_argument("--rules", default="bptt,eprop,eprop-random,tbptt", help="comma-separated learning rules")
    p.add_argument("--seeds", type=int, default=6, help="seeds per rule (default 6)")
    p.add_argument("--n-rec", type=int, default=32, help="recurrent units (default 32)")
    p.add_argument("--steps", type=int, default=800, help="Adam updates per run (default 800)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--target-accuracy", type=float, default=0.9, help="matched accuracy (default 0.9)")
    p.add_argument("--window", type=int, default=20, help="truncation window of tbptt in steps (default 20)")
    p.add_argument("--heldout", default=None,
                   help="comma-separated held-out sets: timing, conditions (default both; timing for center-out)")
    p.add_argument("--input-noise", type=float, default=0.5, help="extra input-noise SD of the noisy test set")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--data", default=None, help="folder of the recordings (center-out)")
    p.add_argument("--out", default="results/curvature", help="output folder (default results/curvature)")
    p.add_argument("--along-training", action="store_true",
                   help="also plot lambda_max along training for seed 0 of each rule (~1 extra CPU-minute)")
    p.set_defaults(func=_run_curvature)


def _run_curvature(args) -> int:
    from pathlib import Path

    from neurosim.experiments.liu2022 import (compare_rules, curvature_report, curvature_trajectories,
                                              plot_curvature_along_training)
    from neurosim.rnn.tasks import make

    try:
        task = make(args.task, data=args.data)
        if args.heldout is None:
            heldout = ("timing",) if task.name == "center-out" else ("timing", "conditions")
        else:
            heldout = tuple(h.strip() for h in args.heldout.split(",") if h.strip())
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1; got {args.seeds}")
        table = compare_rules(task, rules=tuple(r.strip() for r in args.rules.split(",") if r.strip()),
                              seeds=tuple(range(args.seeds)), n_rec=args.n_rec, steps=args.steps, lr=args.lr,
                              batch_size=args.batch_size, target_accuracy=args.target_accuracy,
                              tbptt_window=args.window, heldout=heldout, input_noise=args.input_noise,
                              n_jobs=args.jobs)
        print(table.round(4).to_string(index=False))
        print()
        print(curvature_report(table, args.out))
        if args.along_training:
            tables = curvature_trajectories(task, tuple(table.attrs["settings"]["rules"]), n_rec=args.n_rec,
                                            steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                                            tbptt_window=args.window)
            plot_curvature_along_training(tables, Path(args.out) / "curvature_along_training.png", lr=args.lr)
            for rule, t in tables.items():
                print(f"{rule}: lambda_max along training (seed 0)",
                      t[["step", "accuracy", "lambda_max"]].round(3).to_string(index=False), sep="\n")
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"neurosim curvature: error: {err}", file=sys.stderr)
        return 2
    print(f"written to {args.out}/ (runs.csv, summary.txt, curvature_vs_gap.png"
          + (", curvature_along_training.png)" if args.along_training else ")"))
    return 0
# --- end curvature ----------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosim",
        description="Compare model activity with neural recordings; train RNNs with BPTT or e-prop.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_datasets, _add_train, _add_reproduce, _add_curvature):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
