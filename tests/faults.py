"""A model with injected faults, for the failure tests (importable as ``faults.FaultyMajority``
by ``stance train`` subprocesses that have ``tests/`` on PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

from stance.models.baselines import MajorityClass

_fits = 0  # fits so far in this process


class FaultyMajority(MajorityClass):
    """The majority baseline, faulty from its ``at_fit``-th fit in a process on: ``raise``
    (a RuntimeError) or ``block`` (write ``marker``, then sleep until a signal ends it)."""

    def __init__(self, fault: str = "none", at_fit: int = 1, marker: str | None = None):
        self.fault = fault
        self.at_fit = at_fit
        self.marker = marker

    def fit(self, X, y):
        global _fits
        _fits += 1
        if _fits >= self.at_fit and self.fault == "raise":
            raise RuntimeError(f"injected failure in fit {_fits}")
        if _fits >= self.at_fit and self.fault == "block":
            if self.marker:
                Path(self.marker).write_text(str(_fits))
            time.sleep(600)
        return super().fit(X, y)
