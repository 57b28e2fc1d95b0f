"""The documentation runs: every code block of README.md and docs/*.md, and every example script.

Conventions for the pages (README.md and every ``docs/*.md``, found afresh on each run):

* Every fenced block names its language. ```` ```python ```` blocks are executed, in order, the
  blocks of one page in one namespace (later blocks use earlier names), in a temporary working
  directory (files a block writes land there), with the embedded M1 recordings (no data folder).
* A stated output is asserted: an expression statement followed by a trailing comment
  ``# -> VALUE`` must evaluate to VALUE. VALUE is a Python literal; a float is compared to the
  digits printed (``# -> 0.484`` passes for 0.48383 and fails for 0.4851), anything else by
  equality (a ``Score`` or numpy scalar compares as a float). A remark may follow VALUE
  (``# -> 0.445 (released analysis)``): VALUE is the longest leading run of words that is a literal.
  A decimal number in the trailing comment of an expression statement without ``->`` is refused:
  state outputs so they are checked.
* A python block that must not run is marked in its info string, with the reason:
  ```` ```python no-run: <reason> ```` (a signature, a deliberately long job, a cluster). Blocks in
  other languages (``bash``, ``text``) are never run. Each page's counts are checked against
  ``NO_RUN`` below, so a block cannot stop running silently.
* A python block that needs an optional library says so: ```` ```python requires=torch ````. It runs
  where the library is installed; elsewhere that block alone is left out (the page's other blocks
  still run, so such a block must not define names later blocks use) and the test says which.
* Every script in ``examples/`` runs as a user would start it (``python examples/NAME.py``) from a
  temporary directory with no data folder; a script that takes minutes offers ``--quick`` and is run
  with it.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLES = sorted((REPO / "examples").glob("*.py"))

# python blocks deliberately not run, per page (the marker must also give its reason)
NO_RUN = {
    "docs/plot.md": 5,  # function signatures
}

# optional extras a page may use: absent, its test skips with the reason (never fails)
OPTIONAL = {"matplotlib", "dask", "distributed", "torch", "pynwb"}

FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
STATED = re.compile(r"#\s*->\s*(?P<value>.+?)\s*$")
DECIMAL = re.compile(r"\d\.\d")


class Block:
    def __init__(self, page: Path, line: int, info: str, code: str):
        self.page, self.line, self.info, self.code = page, line, info.strip(), code
        self.lang = self.info.split(":")[0].split()[0] if self.info else ""
        self.flags = self.info[len(self.lang):].strip()

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang == "python" and not self.flags.startswith("no-run")


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a markdown page, with the line of their opening fence (1-based)."""
    out, lines, i = [], page.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, indent, body = i, len(m["indent"]), []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{page.relative_to(REPO)}:{start + 1}: code fence is never closed")
        out.append(Block(page, start + 1, m["info"], "\n".join(body) + "\n"))
        i += 1
    return out


def _value(text: str):
    """Split a stated output into its literal and the number of printed decimals (floats).

    The literal is the longest run of leading words that is a Python literal (a trailing ``:``,
    ``;`` or ``,`` dropped), so a remark may follow it: ``# -> 0.445 (trained)``.
    """
    words = text.split()
    for k in range(len(words), 0, -1):
        literal = " ".join(words[:k])
        for candidate in (literal, literal.rstrip(":;,")):
            try:
                value = ast.literal_eval(candidate)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            decimals = None
            if isinstance(value, float):
                m = re.fullmatch(r"[-+]?\d*\.(\d+)", candidate)
                decimals = len(m.group(1)) if m else None
            return candidate, value, decimals
    raise AssertionError(f"stated output {text!r} does not start with a Python literal")


def _check(got, literal: str, value, decimals, where: str) -> None:
    if isinstance(value, float):
        got = float(got)
        shown = f"{got:.{decimals}f}" if decimals is not None else repr(got)
        want = f"{value:.{decimals}f}" if decimals is not None else repr(value)
        assert shown == want, f"{where}: the page states {literal}, the code gives {got!r}"
    else:
        if isinstance(value, int) and not isinstance(value, bool) and isinstance(got, (np.integer, int)):
            got = int(got)
        assert got == value, f"{where}: the page states {literal}, the code gives {got!r}"


def run_block(block: Block, namespace: dict) -> int:
    """Run one block statement by statement; returns the number of stated outputs checked."""
    tree = ast.parse(block.code, filename=block.name)
    source = block.code.splitlines()
    checked = 0
    for stmt in tree.body:
        last = source[stmt.end_lineno - 1]
        comment = _trailing_comment(last)
        where = f"{block.page.relative_to(REPO)}:{block.line + stmt.end_lineno}"
        stated = STATED.search(comment) if comment else None
        if isinstance(stmt, ast.Expr) and comment and not stated and DECIMAL.search(comment):
            raise AssertionError(f"{where}: a number in the comment {comment!r}: state outputs as `# -> VALUE` "
                                 "so that they are checked")
        ast.increment_lineno(stmt, block.line)  # tracebacks point at the page's own lines
        if stated:
            assert isinstance(stmt, ast.Expr), f"{where}: `# -> VALUE` follows an expression, not a statement"
            literal, value, decimals = _value(stated["value"])
            got = eval(compile(ast.Expression(stmt.value), str(block.page), "eval"), namespace)
            _check(got, literal, value, decimals, where)
            checked += 1
        else:
            exec(compile(ast.Module([stmt], type_ignores=[]), str(block.page), "exec"), namespace)
    return checked


def _trailing_comment(line: str) -> str | None:
    """The comment at the end of a source line (outside strings), or None."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line + "\n").readline):
            if tok.type == tokenize.COMMENT:
                return tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        k = line.find("#")  # a line inside a bracket: fall back to the first '#'
        return line[k:] if k >= 0 else None
    return None


# --------------------------------------------------------------------------- the pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_fence_names_its_language(page):
    for b in blocks(page):
        assert b.lang, (f"{b.name}: name the block's language (```python, ```bash, ```text; "
                        "```python no-run: <reason> for python that must not run)")
        if b.lang == "python" and b.flags:
            assert re.fullmatch(r"no-run:\s*\S.*|requires=[A-Za-z_][\w.]*", b.flags), (
                f"{b.name}: write `python no-run: <reason>` or `python requires=<module>`")


def test_no_run_blocks_are_counted():
    found = {}
    for page in PAGES:
        n = sum(b.lang == "python" and not b.runs for b in blocks(page))
        if n:
            found[str(page.relative_to(REPO))] = n
    assert found == {k: v for k, v in NO_RUN.items() if v}, (
        "python blocks marked no-run changed; update NO_RUN in tests/test_docs.py if that is intended")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_page_code_runs_and_states_true_outputs(page, tmp_path, monkeypatch):
    runnable = [b for b in blocks(page) if b.runs]
    if not runnable:
        return  # a page without python code (its fences are checked above)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)  # the embedded copy, as in a fresh clone
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__docs__"}
    state = np.random.get_state()  # a page may seed numpy's global generator (as other packages' recipes do)
    left_out = []
    try:
        for b in runnable:
            required = b.flags[len("requires="):] if b.flags.startswith("requires=") else None
            if required and importlib.util.find_spec(required.split(".")[0]) is None:
                left_out.append(f"{b.name} (needs {required})")
                continue
            try:
                run_block(b, namespace)
            except ModuleNotFoundError as err:
                if err.name and err.name.split(".")[0] in OPTIONAL:
                    pytest.skip(f"{b.name} needs the optional package {err.name} (not installed)")
                raise
    finally:
        np.random.set_state(state)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    if left_out:
        pytest.skip("ran every block but " + ", ".join(left_out) + ": optional library not installed")


def test_stated_outputs_convention_can_fail(tmp_path):
    """The checker itself: a wrong stated value, a number outside the convention, digits."""
    page = tmp_path / "p.md"
    ok = Block(page, 0, "python", "x = 0.48383\nx  # -> 0.484\nround(x, 1)  # -> 0.5: a remark\n'a'  # -> 'a'\n")
    ok.page = REPO / "README.md"
    assert run_block(ok, {}) == 3
    for code, match in [("0.4851  # -> 0.484\n", "states 0.484"), ("0.48  # about 0.48\n", "state outputs"),
                        ("1  # -> 2\n", "states 2"), ("x = 1  # -> 1\n", "follows an expression")]:
        bad = Block(REPO / "README.md", 0, "python", code)
        with pytest.raises(AssertionError, match=match):
            run_block(bad, {})


# --------------------------------------------------------------------------- the examples
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_from_a_fresh_directory(script, tmp_path):
    source = script.read_text(encoding="utf-8")
    args = ["--quick"] if '"--quick"' in source else []  # every output goes below the working directory
    env = {k: v for k, v in os.environ.items() if k != "NEUROSIM_DATA"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    # the timeout only guards against a hang (a script that takes minutes must offer --quick)
    proc = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{script.name} {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    if "plot_m1" in script.name:
        assert len(list((tmp_path / "figures").glob("*.png"))) == 5


def test_ci_runs_the_readme_test_line():
    """CI runs exactly the line README.md gives a newcomer for the tests."""
    readme = [line.strip() for b in blocks(REPO / "README.md") if b.lang == "bash" for line in b.code.splitlines()]
    line = next(line for line in readme if "pytest" in line)
    ci = [ln.strip() for ln in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert line in ci, f"README's test line {line!r} is not what .ci/run runs ({ci})"
