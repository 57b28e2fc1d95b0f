"""The ``neurosim`` command's entry point, outside the package.

Importing anything inside ``neurosim`` first runs ``neurosim/__init__.py`` (numpy, pandas, xarray:
most of a second), so a Ctrl-C in that moment would escape any handler written inside the package
and print a traceback. This module imports nothing of neurosim until it is called, and turns such
an interrupt into the command's usual one line and exit status 130.
"""

import sys


def main() -> int:
    """Run ``neurosim.cli.main`` (the ``neurosim`` command); Ctrl-C while it loads exits with 130."""
    try:
        from neurosim.cli import main as cli_main
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130
    return cli_main()
