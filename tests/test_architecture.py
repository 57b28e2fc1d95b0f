"""The layering of the package (docs/index.md, "Where things live"), checked on the source.

Every ``import`` and ``from ... import`` in every module — at module level or inside a
function — is read with :mod:`ast`, and each rule below names the layer that may not import
another. A violation lists the offending module and import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neurosim"

ALIGNMENT = ("neurosim.trajectories", "neurosim.io", "neurosim.datasets", "neurosim.compare",
             "neurosim.baselines", "neurosim.pairwise", "neurosim.matching")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the neurosim modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            # "from neurosim import rnn" imports the sub-module neurosim.rnn
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "neurosim" or m.startswith("neurosim.")}


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(importers, forbidden, allowed=(), *, exact=False):
    """``importer imports forbidden`` lines; importers are package prefixes (or exact names)."""
    bad = []
    for mod, imports in MODULES.items():
        if not (mod in importers if exact else _in(mod, *importers)):
            continue
        for imp in sorted(imports):
            if _in(imp, *forbidden) and not _in(imp, *allowed) and not _in(imp, mod):
                bad.append(f"{mod} imports {imp}")
    return bad


def test_the_package_was_read():
    assert {"neurosim.metrics.shape", "neurosim.compare", "neurosim.rnn.model", "neurosim.experiments.liu2025",
            "neurosim.plot"} <= set(MODULES)
    assert "neurosim.metrics.shape" in MODULES["neurosim.metrics"]  # the reader sees imports


def test_metrics_import_nothing_else_of_neurosim():
    bad = [f"{m} imports {i}" for m, imps in MODULES.items() if _in(m, "neurosim.metrics")
           for i in imps if not _in(i, "neurosim.metrics") and i != "neurosim"]
    # "from neurosim.metrics import x" registers "neurosim.metrics" only; a bare "neurosim" never appears
    assert bad == []


def test_alignment_layer_imports_no_rnn_experiments_or_plot():
    assert _violations(ALIGNMENT, ("neurosim.rnn", "neurosim.experiments", "neurosim.cli", "neurosim.plot")) == []


def test_rnn_imports_no_compare_pairwise_or_experiments():
    assert _violations(("neurosim.rnn",), ("neurosim.compare", "neurosim.pairwise", "neurosim.matching",
                                           "neurosim.baselines", "neurosim.experiments", "neurosim.cli",
                                           "neurosim.plot")) == []


def test_nothing_imports_experiments_or_cli():
    importers = [m for m in MODULES if not _in(m, "neurosim.experiments", "neurosim.cli", "neurosim.__main__")]
    assert _violations(importers, ("neurosim.experiments", "neurosim.cli"), exact=True) == []


def test_plot_imports_nothing_above_it():
    assert _violations(("neurosim.plot",), ("neurosim.rnn", "neurosim.experiments", "neurosim.cli",
                                            "neurosim.pairwise", "neurosim.matching", "neurosim.datasets")) == []


@pytest.mark.parametrize("layer", ["neurosim.metrics", "neurosim.compare", "neurosim.rnn"])
def test_a_violation_would_be_seen(layer, tmp_path):
    # the checker itself: a module that imports experiments is reported
    fake = {f"{layer}.fake": {"neurosim.experiments.liu2025"}}
    MODULES.update(fake)
    try:
        assert _violations((layer,), ("neurosim.experiments",)) == [f"{layer}.fake imports neurosim.experiments.liu2025"]
    finally:
        for k in fake:
            MODULES.pop(k)
