"""``python -m neurosim`` is the same as the ``neurosim`` command."""

import sys

try:
    from neurosim.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line's modules load: no traceback
    print("neurosim: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
