"""What a model URI points at, asked of the store without importing MLflow.

``stance predict`` must know which run's model a URI such as ``models:/NAME@champion`` names
now (an alias moves) before it can use a cached lean artefact. Importing MLflow to ask would
cost seconds, so this reads the answer directly: from a sqlite store with a read-only query
of MLflow's registry tables, from a tracking server over its REST API. Anything else (another
store, an unknown URI form, a query that fails) returns None, and the caller takes the MLflow
path, which gives the full answer or the full error.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stance.tracking.store import resolve_uri, sqlite_path

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelRef:
    """The model a URI resolves to now: its run and source (immutable), and the version it has."""

    model_uri: str
    tracking_uri: str
    run_id: str
    source: str
    name: str | None = None
    version: str | None = None


def _parse(model_uri: str) -> tuple[str, ...] | None:
    if model_uri.startswith("runs:/"):
        run_id, _, path = model_uri[len("runs:/"):].partition("/")
        return ("run", run_id, path) if run_id and path else None
    if model_uri.startswith("models:/"):
        rest = model_uri[len("models:/"):]
        if "@" in rest:
            name, _, alias = rest.partition("@")
            return ("alias", name, alias) if name and alias else None
        name, _, version = rest.rpartition("/")
        return ("version", name, version) if name and version.isdigit() else None
    return None


def _sqlite(path: Path, parsed: tuple[str, ...]) -> tuple[str, str, str | None, str | None] | None:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT_S)
    try:
        kind, first, second = parsed
        if kind == "run":
            row = connection.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (first,)).fetchone()
            return (first, f"runs:/{first}/{second}", None, None) if row and row[0] == "active" else None
        name, version = first, second
        if kind == "alias":
            row = connection.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                                     (name, second)).fetchone()
            if row is None:
                return None
            version = str(row[0])
        row = connection.execute("SELECT run_id, source, status FROM model_versions WHERE name = ? AND version = ?",
                                 (name, int(version))).fetchone()
        if row is None or not row[0] or row[2] != "READY":
            return None
        return row[0], row[1], name, version
    finally:
        connection.close()


def _rest(base: str, parsed: tuple[str, ...]) -> tuple[str, str, str | None, str | None] | None:
    kind, first, second = parsed

    def get(endpoint: str, **query) -> dict:
        url = f"{base.rstrip('/')}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())

    if kind == "run":
        run = get("runs/get", run_id=first)["run"]
        active = run["info"].get("lifecycle_stage") == "active"
        return (first, f"runs:/{first}/{second}", None, None) if active else None
    if kind == "alias":
        version = get("registered-models/alias", name=first, alias=second)["model_version"]
    else:
        version = get("model-versions/get", name=first, version=second)["model_version"]
    if not version.get("run_id") or version.get("status", "READY") != "READY":
        return None
    return version["run_id"], version.get("source", ""), first, str(version["version"])


def resolve_ref(model_uri: str, tracking_uri: str) -> ModelRef | None:
    """The run and source ``model_uri`` names now, or None when it cannot be told cheaply."""
    parsed = _parse(model_uri)
    if parsed is None:
        return None
    uri = resolve_uri(tracking_uri)
    path = sqlite_path(uri)
    try:
        if path is not None:
            found = _sqlite(path, parsed) if path.is_file() else None
        elif uri.startswith(("http://", "https://")):
            found = _rest(uri, parsed)
        else:
            found = None
    except (sqlite3.Error, OSError, ValueError, KeyError):
        return None
    if found is None:
        return None
    run_id, source, name, version = found
    return ModelRef(model_uri, uri, run_id, source, name, version)
