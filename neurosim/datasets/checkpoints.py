"""Published network weights (not recordings): a registry of pinned files, search and verified fetch.

Kept apart from the recordings' registry (:data:`neurosim.datasets.REGISTRY`), as the benchmark
images are, so that :func:`neurosim.datasets.names` keeps meaning "neural recordings". Every file is
pinned by size, sha256 and a public URL at a fixed commit (:class:`~neurosim.datasets.DatasetInfo`)
and verified before it is read. **Nothing here ships with the package**: the source repository
states no licence, so the files are read from where the user has them, or downloaded on request.

======================  =======================================================================
``"liu2025"``           Liu, Yang & Cueva (2025): the shared update-0 initialisation of their
                        N = 200 centre-out networks (canonical file) and three networks after
                        1,000 updates (BPTT and e-prop at lr 3e-4, BPTT at lr 1e-3); PyTorch
                        ``.pth`` files, read without torch by
                        :func:`neurosim.rnn.load_torch_checkpoint`
======================  =======================================================================

Search order of :func:`find_checkpoint`: explicit ``path`` → ``$NEUROSIM_DATA`` → the user cache
(:func:`neurosim.datasets.cache_dir`, where :func:`fetch_checkpoints` and
``neurosim datasets fetch liu2025_checkpoints`` put them). Within a location the folder
``liu2025_hatsopoulos_checkpoints/`` or the files themselves are found.
"""

from __future__ import annotations

import os
from pathlib import Path

from neurosim.datasets._core import ENV_DATA, _fetch_files, _first_found, _lookup, _user_roots
from neurosim.datasets.registry import DatasetInfo, FileInfo

__all__ = ["CHECKPOINTS", "checkpoint_names", "find_checkpoint", "fetch_checkpoints"]

_LRS = ("https://raw.githubusercontent.com/Helena-Yuhan-Liu/LearningRuleSimilarities/"
        "689feefac5aab47fdf6169e4233e00f60deefccd/multisys_pipeline/store_trained_models/")
_RUN = "Hatsopoulos2007_retanh_nrecurrent200_activitynoisestd0.0_rng1_{lm}_lr{lr}_l210.0_g01.0"


def _url(lm: str, lr: str, update: int) -> str:
    return _LRS + _RUN.format(lm=lm, lr=lr) + f"/model_parameter_update{update}.pth"


CHECKPOINTS: dict[str, DatasetInfo] = {
    "liu2025": DatasetInfo(
        name="liu2025",
        folder="liu2025_hatsopoulos_checkpoints",
        files=(
            FileInfo("bptt_lr3e-4_update0.pth", 167_959,
                     "3cb9630e82b475012a96dc88c02bb2b96181c1fec6f8c5173bb1bf5037812cda", _url("lm0", "0.0003", 0),
                     "update 0: the initialisation every run of the paper starts from (N = 200, g0 = 1)"),
            FileInfo("bptt_lr3e-4_update1000.pth", 167_983,
                     "6bc936612d93d938cf97953350b584197b63b2fad8e35d7c126756027d3bdd61",
                     _url("lm0", "0.0003", 1000), "BPTT, Adam lr 3e-4, after 1,000 updates"),
            FileInfo("eprop_lr3e-4_update1000.pth", 167_983,
                     "aa2d04533e68c1e6e2ff5ed7dbbd2a79b2db93fab1005d6000665a4d5c92d98f",
                     _url("lm1", "0.0003", 1000), "e-prop, Adam lr 3e-4, after 1,000 updates"),
            FileInfo("bptt_lr1e-3_update1000.pth", 167_983,
                     "8bdce18c3b7165092eef6a8c8690a7a90f8b0ab4f320288d972d76dc8e6dbb7a",
                     _url("lm0", "0.001", 1000), "BPTT, Adam lr 1e-3, after 1,000 updates"),
        ),
        description=("Liu, Yang & Cueva (2025) centre-out RNNs (N = 200, retanh, tau = 10 steps): the shared "
                     "update-0 weights and three networks after 1,000 updates."),
        citation="Liu YH, Yang GR, Cueva CJ (2025) ICML; github.com/Helena-Yuhan-Liu/LearningRuleSimilarities",
        license="none stated by the source repository: used from the user's copy, never redistributed",
        source=("https://github.com/Helena-Yuhan-Liu/LearningRuleSimilarities/tree/"
                "689feefac5aab47fdf6169e4233e00f60deefccd/multisys_pipeline/store_trained_models"),
    ),
}

#: the command-line name of each entry (``neurosim datasets fetch liu2025_checkpoints``)
CLI_NAMES = {f"{name}_checkpoints": name for name in CHECKPOINTS}


def checkpoint_names() -> list[str]:
    """Names of the registered sets of published weights.

    Examples
    --------
    >>> checkpoint_names()
    ['liu2025']
    """
    return sorted(CHECKPOINTS)


def _get(name) -> DatasetInfo:
    return _lookup(CHECKPOINTS, name, "checkpoint set")


def find_checkpoint(name: str = "liu2025", file: str | None = None, path: str | os.PathLike | None = None, *,
                    verify: bool = True) -> Path:
    """Locate one file of a published checkpoint set (``path`` → ``$NEUROSIM_DATA`` → cache).

    Parameters
    ----------
    name : str
        ``"liu2025"``.
    file : str, optional
        One of the set's files (default: the canonical one, the update-0 initialisation).
    path : path-like, optional
        A data root, the set's folder or the file itself; when given, nothing else is searched.
    verify : bool
        Check size and sha256 against the registry (default); a mismatch raises ``ValueError``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        Saying how to get the file (``neurosim datasets fetch liu2025_checkpoints`` or
        ``$NEUROSIM_DATA``).

    Examples
    --------
    >>> try:
    ...     find_checkpoint("liu2025", path="/nonexistent")
    ... except FileNotFoundError as err:
    ...     print("neurosim datasets fetch liu2025_checkpoints" in str(err))
    True
    """
    info = _get(name)
    wanted = info.canonical if file is None else None
    if wanted is None:
        try:
            wanted = info.file(file)
        except KeyError:
            raise ValueError(f"{file!r} is not a file of checkpoint set {name!r}; its files: "
                             f"{[f.name for f in info.files]}") from None
    one = DatasetInfo(info.name, info.folder, (wanted,), info.description, info.citation, info.license,
                      info.source)
    looked: list[str] = []
    found = _first_found(one, _user_roots(path), verify, looked)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"{wanted.name} of checkpoint set {name!r} not found (looked in: {'; '.join(looked)}). Get it with\n"
        f"    neurosim datasets fetch {name}_checkpoints\n"
        f"(downloads {len(info.files)} files from the pinned public source and checks their sha256), or point "
        f"${ENV_DATA} or the path argument (--init-path on the command line) at a folder that holds {info.folder}/. The files are not shipped "
        f"with neurosim: their source states no licence."
    )


def fetch_checkpoints(name: str = "liu2025", *, dest: str | os.PathLike | None = None,
                      base_url: str | None = None, force: bool = False, timeout: float = 60.0) -> Path:
    """Download a checkpoint set from its pinned public source, verifying each file's size and sha256.

    Same contract as :func:`neurosim.datasets.fetch` (atomic: a failed or corrupted download leaves
    nothing behind). Returns the canonical file (for ``"liu2025"``: the update-0 initialisation).

    Examples
    --------
    >>> fetch_checkpoints("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown checkpoint set 'nope'; known: liu2025
    """
    info = _get(name)
    return _fetch_files(info, dest=dest, base_url=base_url, force=force, timeout=timeout)
