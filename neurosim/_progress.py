"""One place for progress bars of long loops (bootstrap, cross-validation, permutations, ceilings).

``progress="auto"`` (the default of the inference functions) shows a tqdm bar only when
standard error is an interactive terminal, so scripts, tests and CI print nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

from neurosim.metrics._validate import check_flag


def show_progress(progress: Any, name: str = "progress", *, allow_auto: bool = True) -> bool:
    """Resolve a ``progress=`` argument: True / False (None = False), or ``"auto"`` = stderr is a TTY.

    Any other string (``"yes"``, ``"no"``) and any number are refused: a string would otherwise
    be taken as true.

    Examples
    --------
    >>> show_progress(False), show_progress(True)
    (False, True)
    """
    if isinstance(progress, str):
        if progress != "auto" or not allow_auto:
            choices = "True, False or 'auto'" if allow_auto else "True or False"
            raise ValueError(f"{name} must be {choices}; got the string {progress!r}.")
        stream = sys.stderr
        return bool(getattr(stream, "isatty", None) and stream.isatty())
    if progress is None:
        return False
    return check_flag(progress, name)


def progress_bar(total: int, progress: Any, desc: str, unit: str = "it"):
    """A tqdm bar over ``total`` steps, disabled unless :func:`show_progress` says so.

    Examples
    --------
    >>> with progress_bar(3, False, "demo") as bar:
    ...     for _ in range(3):
    ...         bar.update()
    """
    return tqdm(total=int(total), disable=not show_progress(progress), desc=desc, unit=unit, leave=False)
