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
    p.set_defaults(func=lambda args: _not_ready("datasets"))
# --- end datasets -----------------------------------------------------------


# --- train (issue 4) -------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a leaky RNN on a task with a learning rule")
    p.set_defaults(func=lambda args: _not_ready("train"))
# --- end train --------------------------------------------------------------


# --- reproduce (issue 5) ---------------------------------------------------
def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="e-prop vs BPTT similarity to M1 at matched accuracy")
    p.set_defaults(func=lambda args: _not_ready("reproduce"))
# --- end reproduce ----------------------------------------------------------


# --- curvature (issue 6) ---------------------------------------------------
def _add_curvature(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curvature", help="loss-landscape curvature and generalization by rule")
    p.set_defaults(func=lambda args: _not_ready("curvature"))
# --- end curvature ----------------------------------------------------------


def _not_ready(name: str) -> int:
    print(f"neurosim {name}: not available in this build", file=sys.stderr)
    return 2


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
