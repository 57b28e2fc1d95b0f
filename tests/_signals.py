"""Child processes of the interrupt tests get the default SIGINT disposition.

A shell that starts a job in the background without job control (``cmd &`` in a script, nohup)
sets SIGINT to "ignore", and children inherit it; Python then never installs its
KeyboardInterrupt handler. Real users' Ctrl-C reaches a foreground process with the default
disposition, which is what these tests are about, so their children start from it.
"""

import signal


def default_sigint() -> None:
    """``preexec_fn`` for :class:`subprocess.Popen`: SIGINT back to its default before exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
