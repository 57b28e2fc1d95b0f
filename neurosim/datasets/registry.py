"""The registry of real recordings neurosim knows: files, sizes, sha256, public sources.

Every file is pinned by size and sha256 and by a public URL at a fixed commit, so a
download can be verified byte for byte. ``REGISTRY[name]`` gives the
:class:`DatasetInfo`; :func:`names` lists them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

__all__ = ["FileInfo", "DatasetInfo", "REGISTRY", "names", "get"]


@dataclass(frozen=True)
class FileInfo:
    """One file of a dataset.

    ``url`` is the public source (raw GitHub at a pinned commit) or ``None`` for a
    local-only derivative that cannot be downloaded (it is still verified when present).
    ``embedded`` marks a file shipped inside the package (verified like any other).
    """

    name: str
    size: int
    sha256: str
    url: str | None
    description: str = ""
    embedded: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset: its folder name, files (the first is canonical), citation and licence."""

    name: str
    folder: str
    files: tuple[FileInfo, ...]
    description: str
    citation: str
    license: str
    source: str
    alternatives: tuple[str, ...] = field(default=())

    @property
    def canonical(self) -> FileInfo:
        return self.files[0]

    def file(self, name: str) -> FileInfo:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


_GH = "https://raw.githubusercontent.com"
_LRS = "Helena-Yuhan-Liu/LearningRuleSimilarities/689feefac5aab47fdf6169e4233e00f60deefccd"
_HATS_NPY = "data_output_aligntomovementonset_minT-800_maxT400_FRsmoothSD25ms.npy"
_TME = "gamaleldin/TME/ad1adf835e72dbba012406b5a3af30701adc8993"
_RSA = "rsagroup/rsatoolbox/f1f83cadb7243492a1aae7460466e0f0140b20ac"

REGISTRY: dict[str, DatasetInfo] = {
    "hatsopoulos2007": DatasetInfo(
        name="hatsopoulos2007",
        folder="hatsopoulos2007_m1_center_out",
        files=(
            FileInfo(
                _HATS_NPY,
                1_139_407,
                "42ba0083581ac1d1d0f3e0e2d8e9a618aaf04d5ae5753e3df311c9aec1acec37",
                f"{_GH}/{_LRS}/multisys_pipeline/experimental_data/Hatsopoulos2007/{_HATS_NPY}",
                "raw file as released by Liu, Yang & Cueva (pickled dict; read with a restricted unpickler)",
            ),
            FileInfo(
                "hatsopoulos2007_m1_center_out.npz",
                1_140_922,
                "d432518530ae97085ec15b21db4f1296e93ff3b44e7ddef31a369207af6424fe",
                None,
                "lossless pickle-free .npz conversion of the same 9 arrays (embedded in the package)",
                embedded=True,
            ),
        ),
        alternatives=("hatsopoulos2007_m1_center_out.npz",),
        description=(
            "Macaque M1, 8-direction centre-out reaching, trial-averaged rates: 141 units x "
            "121 bins (-800..400 ms re movement onset, 10 ms) x 8 directions, spikes/s; "
            "hand/joint kinematics (normalized)."
        ),
        citation=(
            "Hatsopoulos NG, Xu Q, Amit Y (2007) J Neurosci 27:5105-5114, doi:10.1523/JNEUROSCI.3570-06.2007; "
            "Suresh AK et al. (2020) eLife 9:e58848, data Dryad doi:10.5061/dryad.xsj3tx9cm; "
            "processed file from Liu YH, Yang RG, Cueva CJ (2025) ICML."
        ),
        license="derivative of CC0 Dryad data; source repository has no LICENSE file",
        source=f"https://github.com/{_LRS.replace('/689f', '/tree/689f')}/multisys_pipeline/experimental_data/Hatsopoulos2007",
    ),
    "churchland2012_tme": DatasetInfo(
        name="churchland2012_tme",
        folder="churchland2012_m1_reach_tme",
        files=(
            FileInfo(
                "exampleData.mat",
                232_660,
                "c9fc29793264c908ccc2430f780a763a0f4730064608789a98278ea364e267e1",
                f"{_GH}/{_TME}/data/exampleData.mat",
                "TME demo tensor dataTensor (61 time, 50 neurons, 10 conditions) and t (ms)",
            ),
        ),
        description=(
            "Churchland et al. 2012 M1 reaching, TME-preprocessed subset: 50 units x 61 bins "
            "(-50..550 ms, 10 ms) x 10 conditions; normalized rates (not spikes/s)."
        ),
        citation=(
            "Churchland MM et al. (2012) Nature 487:51-56, doi:10.1038/nature11129; "
            "Elsayed GF, Cunningham JP (2017) Nat Neurosci 20:1310-1318, doi:10.1038/nn.4617"
        ),
        license="GPL-3.0-or-later (TME repository)",
        source="https://github.com/gamaleldin/TME/tree/ad1adf835e72dbba012406b5a3af30701adc8993/data",
    ),
    "kriegeskorte2008": DatasetInfo(
        name="kriegeskorte2008",
        folder="kriegeskorte2008_92images_rdms",
        files=(
            FileInfo(
                "Kriegeskorte_Neuron2008_supplementalData.mat",
                3_603_779,
                "06f21214399a5d43dc264eed19a7f4b8daf11c8622a59eec3e106064ce5e3504",
                f"{_GH}/{_RSA}/demos/92imageData/Kriegeskorte_Neuron2008_supplementalData.mat",
                "monkey-IT and human-IT RDMs (condensed), 12 category labels, image metadata",
            ),
            FileInfo(
                "92_brainRDMs.mat",
                224_663,
                "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c",
                f"{_GH}/{_RSA}/demos/92imageData/92_brainRDMs.mat",
                "human-IT fMRI RDMs, 4 subjects x 2 sessions",
            ),
        ),
        description=(
            "92-image RDMs: monkey IT (674 neurons, Kiani 2007) and human IT fMRI "
            "(4 subjects x 2 sessions), with image category labels."
        ),
        citation=(
            "Kriegeskorte N et al. (2008) Neuron 60:1126-1141, doi:10.1016/j.neuron.2008.10.043; "
            "Kiani R et al. (2007) J Neurophysiol 97:4296-4309; Nili H et al. (2014) PLoS Comput Biol 10:e1003553"
        ),
        license="MIT (rsatoolbox repository); embedded stimulus photographs have unstated copyright",
        source="https://github.com/rsagroup/rsatoolbox/tree/f1f83cadb7243492a1aae7460466e0f0140b20ac/demos/92imageData",
    ),
}


def names() -> list[str]:
    """Names of the registered datasets.

    Examples
    --------
    >>> names()
    ['churchland2012_tme', 'hatsopoulos2007', 'kriegeskorte2008']
    """
    return sorted(REGISTRY)


def get(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` for ``name``; unknown names get a did-you-mean.

    Examples
    --------
    >>> get("hatsopoulos2007").canonical.size
    1139407
    >>> get("hatsopoulos")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'hatsopoulos'; did you mean 'hatsopoulos2007'? Known: churchland2012_tme, hatsopoulos2007, kriegeskorte2008
    """
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(str(name), list(REGISTRY), n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    raise ValueError(f"unknown dataset {name!r}{hint} Known: {', '.join(names())}")
