"""``python -m neurosim`` is the same as the ``neurosim`` command."""

import sys

from neurosim.cli import main

sys.exit(main())
