"""The `neurosim` command line: usage errors are one line with exit status 2 before any work,
help is complete and fast to produce, interrupts exit 130 without a traceback."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import neurosim.cli as cli
from neurosim.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = ["--task", "perceptual-decision", "--steps", "2", "--n-rec", "6", "--batch-size", "2", "--checkpoints", "2",
        "--no-progress"]


def _one_error_line(capsys) -> str:
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurosim {importlib.metadata.version('neurosim')}"


@pytest.mark.parametrize("argv, message", [
    (["train", "--rule", "backprop"], "unknown learning rule 'backprop'"),
    (["train", "--truncation", "5"], "--truncation does not apply to --rule bptt; it is used by --rule tbptt"),
    (["train", "--rule", "eprop", "--mu", "0.5"], "--mu does not apply to --rule eprop; it is used by --rule modprop"),
    (["train", "--rule", "bptt", "--feedback-seed", "3"], "it is used by --rule eprop-random / fa"),
    (["train", "--rule", "rtrl", "--dtype", "float32"], "--dtype float32 is available for --rule bptt"),
    (["train", "--lr", "1e300"], "--lr must be at most 1"),
    (["train", "--lr", "nan"], "--lr must be > 0"),
    (["reproduce", "--gain-sweep"], "--gain-sweep needs --full"),
])
def test_user_mistakes_are_one_line_before_anything_runs(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def never(*args, **kwargs):  # nothing may be trained or started
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(cli.rnn, "train", never)
    monkeypatch.setattr(cli, "reproduce", never)
    assert main([*argv, *([] if argv[0] != "train" else TINY)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"neurosim {argv[0]}: error: ") and message in line, line
    assert list(tmp_path.iterdir()) == []  # no lock, no folder


def test_warnings_are_one_line_each(capsys, monkeypatch):
    """A warning raised inside a sub-command is printed as one line (no source line echoed)."""

    def warn(args):
        warnings.warn("overflow encountered in multiply", RuntimeWarning)
        return 0

    monkeypatch.setattr(cli, "_datasets_list", warn)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["datasets", "list"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("neurosim datasets: warning: overflow encountered in multiply (")


def test_ctrl_c_at_any_moment_of_main_is_exit_130_without_traceback(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt  # e.g. while the sub-commands' modules are being imported

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["datasets", "list"]) == 130
    assert capsys.readouterr().err == "neurosim: interrupted\n"


REPO = Path(__file__).resolve().parents[1]


def test_ctrl_c_while_the_package_imports_is_exit_130_without_traceback():
    """The console script's launcher imports nothing of neurosim until called, and a Ctrl-C while
    ``neurosim`` loads (here raised by the import itself) is one line and exit status 130."""
    code = (
        "import builtins, sys\n"
        "import _neurosim_launcher\n"
        "assert not any(m == 'neurosim' or m.startswith('neurosim.') for m in sys.modules)\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name.startswith('neurosim'):\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "sys.exit(_neurosim_launcher.main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "neurosim: interrupted" and "Traceback" not in done.stderr


def test_the_console_script_is_the_launcher():
    text = (REPO / "pyproject.toml").read_text()
    assert 'neurosim = "_neurosim_launcher:main"' in text and 'py-modules = ["_neurosim_launcher"]' in text


def test_help_texts_state_each_default_once(capsys):
    for argv in (["train"], ["reproduce"], ["curvature"], ["datasets", "fetch"], ["datasets", "list"],
                 ["datasets", "verify"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text and "(None:" not in text and "(default: False)" not in text, argv
        assert text.count("(default:") >= 1
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "delayed-match-to-sample | digits" in text  # every task
    assert "--seed SEED seed of batches and noise (default: 0)" in text  # a zero default is still shown


def test_curvature_help_shows_the_digits_experiments_defaults():
    """The help's copy of the digits defaults equals what a run takes (digits_settings)."""
    shown = {flag.lstrip("-").replace("-", "_"): digits for flag, _, _, digits, _ in cli._CURVATURE_DEFAULTS}
    assert shown == cli._digits_defaults()


def test_help_imports_no_experiment_module():
    """`neurosim --help` and each sub-command's help load no experiment, plotting or scikit-learn module
    (their import is what made the help slow; benchmarks/import_time.py times it)."""
    code = ("import sys\nfrom neurosim.cli import main\n"
            "for argv in (['--help'], ['train', '--help'], ['reproduce', '--help'], ['curvature', '--help'],"
            " ['datasets', 'verify', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in sys.modules if m.startswith(('neurosim.experiments', 'matplotlib', "
            "'sklearn', 'neurosim.plot', 'scipy.stats')))\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []"


def test_writer_locks_and_the_run_cache_are_git_ignored(tmp_path):
    """`neurosim reproduce` in a clone leaves `.results.lock` (and, while it runs, `.results.runs/`)
    beside `results/`: git must not list them as untracked files."""
    import shutil

    if shutil.which("git") is None or not (REPO / ".gitignore").is_file():
        pytest.skip("needs git and the repository's .gitignore")
    probe = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", ".results.lock", ".run.nc.lock",
                            ".results.runs/", "results/"], capture_output=True, text=True)
    if probe.returncode == 128:
        pytest.skip("not a git work tree")
    assert probe.stdout.split() == [".results.lock", ".run.nc.lock", ".results.runs/", "results/"]
