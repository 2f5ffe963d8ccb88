"""User-facing errors: one line that names the file, line or field at fault."""

from __future__ import annotations

from pathlib import Path


class StanceError(Exception):
    """A mistake in the user's input or configuration (never a bug in the package).

    The CLI prints ``str(error)`` as a single line and exits non-zero, without a traceback.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = message
        if self.path is not None and line is not None:
            message = f"{self.path}:{line}: {message}"
        elif self.path is not None:
            message = f"{self.path}: {message}"
        super().__init__(message)


class NotExportable(Exception):
    """The model (or one of its parts) has no ONNX form for the light prediction path; the message
    says why. Raised by a model's ``lean_spec`` and by the exporter; the model then serves through
    MLflow."""
