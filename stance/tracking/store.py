"""Which MLflow store a command uses and whether it can be used: the champion's name and URI,
store URIs made absolute, and the one-line reason a store cannot be used.

MLflow is imported only inside :func:`fail_fast`, so the light prediction path can name the
champion and find the store without loading MLflow."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from stance.errors import StanceError

#: The registered model the main job's champion is, and the alias that points at it.
REGISTERED_MODEL = "stance-foreign-troops"
CHAMPION_ALIAS = "champion"
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}"


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///path`` absolute, so the store does not move with the cwd."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        return prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store (made absolute), or None for any other store."""
    uri = resolve_uri(uri)
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def default_tracking_uri() -> str:
    """The store commands use without a config: ``$MLFLOW_TRACKING_URI``, else the embedded
    ``mlflow.db`` under ``$STANCE_ROOT`` (default: the current folder), exactly as
    ``conf/tracking/local.yaml`` resolves it."""
    root = os.environ.get("STANCE_ROOT") or "."
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root}/mlflow.db"


#: Seconds the first request to a tracking server may take before it counts as unreachable.
CONNECT_TIMEOUT = 10


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """MLflow's HTTP settings for one probing request: no retries, a short timeout (each
    only where the user has not set it). They are MLflow's own environment settings, read
    at every request, and are put back afterwards."""
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT

    chosen = [(v, value) for v, value in ((MLFLOW_HTTP_REQUEST_MAX_RETRIES, 0),
                                          (MLFLOW_HTTP_REQUEST_TIMEOUT, CONNECT_TIMEOUT)) if not v.defined]
    for variable, value in chosen:
        variable.set(value)
    try:
        yield
    finally:
        for variable, _ in chosen:
            variable.unset()


#: How long commands wait for a sqlite store another process has locked (seconds).
STORE_TIMEOUT_VARIABLE = "STANCE_STORE_TIMEOUT"


def store_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get(STORE_TIMEOUT_VARIABLE, "60")))
    except ValueError:
        raise StanceError(f"{STORE_TIMEOUT_VARIABLE} must be a number of seconds, got "
                          f"'{os.environ[STORE_TIMEOUT_VARIABLE]}'") from None


def sqlite_problem(uri: str) -> str | None:
    """Why a sqlite store that exists cannot be used now (busy past the timeout, not a
    database, damaged), or None.

    Read-only and quick (SQLite's own ``quick_check``); a store locked by another process is
    waited for (SQLite's busy handler, with back-off) up to ``$STANCE_STORE_TIMEOUT`` seconds.
    """
    import sqlite3

    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return None
    timeout = store_timeout()
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            row = connection.execute("PRAGMA quick_check").fetchone()
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return (f"store busy: {path} (locked by another process for more than {timeout:g} s; "
                    f"set {STORE_TIMEOUT_VARIABLE} to wait longer)")
        row = (str(exc),)
    except sqlite3.DatabaseError as exc:
        row = (str(exc),)
    if row and row[0] != "ok":
        return (f"the MLflow store at {path} is damaged ({row[0]}): restore it from a backup, or point "
                "tracking.uri, --tracking-uri or MLFLOW_TRACKING_URI at another store")
    return None


def read_only_problem(uri: str) -> str | None:
    """Why a sqlite store that exists cannot be written (the file, or the folder SQLite puts
    its journal in, is not writable by this process), or None."""
    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return None
    for what, where in (("the file", path), ("its folder", path.parent)):
        if not os.access(where, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
            return (f"the MLflow store at {path} is read-only ({what} cannot be written), and train, register, "
                    "runs cleanup and compare --log write to it: make it writable, or point tracking.uri, "
                    "--tracking-uri or MLFLOW_TRACKING_URI at a store you can write")
    return None


def store_error(uri: str, exc: Exception) -> str:
    """One line saying why the store at ``uri`` cannot be used."""
    text = str(exc)
    if "readonly database" in text or "read-only" in text.lower() and "database" in text.lower():
        return read_only_problem(uri) or f"the MLflow store at {uri} is read-only"
    if uri.startswith(("http://", "https://")) and ("Max retries exceeded" in text or "timed out" in text.lower()):
        reason = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
        why = reason.group(1).strip() if reason else "no answer"
        return (f"cannot reach the MLflow tracking server at {uri} ({why}); start it, or point "
                "tracking.uri or MLFLOW_TRACKING_URI at a running one")
    return f"cannot use the MLflow store at {uri}: {text.strip().splitlines()[0] if text.strip() else type(exc).__name__}"
