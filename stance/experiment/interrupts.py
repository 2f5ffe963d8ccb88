"""SIGTERM and SIGINT as exceptions, so an interrupted job can still record how it ended.

Python turns SIGINT (Ctrl-C) into ``KeyboardInterrupt`` but lets SIGTERM (what ``kill``,
SLURM's ``scancel`` and job timeouts send) end the process on the spot, leaving its MLflow
run RUNNING for ever. Inside :func:`interrupts_raise`, both signals raise
:class:`Interrupted` (a ``KeyboardInterrupt``), so the run's context manager ends it KILLED
and the entry point exits with ``128 + signal``. Handlers are installed only for the
duration of the block, and the previous ones put back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The process was sent SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code(exc: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal number (130 for a plain Ctrl-C)."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def _raise(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only:
    elsewhere signals cannot be handled, and the block changes nothing). A signal the
    process was told to ignore (``nohup``, background jobs) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signum, handler)
