"""What a model URI points at, asked of the store without importing MLflow.

``stance predict`` must know which run's model a URI such as ``models:/NAME@champion`` names
now (an alias moves) before it can use a cached lean artefact. Importing MLflow to ask would
cost seconds, so this reads the answer directly: from a sqlite store with a read-only query
of MLflow's registry tables, from a tracking server over its REST API. Anything else (another
store, an unknown URI form, a query that fails) returns None, and the caller takes the MLflow
path, which gives the full answer or the full error.

The same cheap read gives the SHA-256 of every file of a run's lean artefact, recorded in a run
tag when the artefact was built (:func:`recorded_checksums`): the reference a cached artefact is
checked against, so that no file beside the artefact can vouch for it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from stance.tracking.store import resolve_uri, sqlite_path

TIMEOUT_S = 3.0
#: Run tag holding a lean artefact's checksums (JSON: file name -> sha256), one per model source.
CHECKSUM_TAG = "stance.lean.sha256"


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
        import urllib.request  # only for a tracking server: 20 ms of a cold start otherwise

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


def source_key(source: str) -> str:
    """A short key for the logged model at ``source`` (a run may log several): it names the model's
    cached artefact folder and its checksum tag."""
    return hashlib.sha256(source.encode()).hexdigest()[:10]


def checksum_tag(source: str) -> str:
    """The run tag with the checksums of the lean artefact built from the model at ``source``."""
    return f"{CHECKSUM_TAG}.{source_key(source)}"


def _checksums(value: str | None) -> dict[str, str] | None:
    try:
        files = json.loads(value) if value else None
    except ValueError:
        return None
    if not isinstance(files, dict) or not files or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()):
        return None
    return files


def recorded_checksums(ref: ModelRef) -> dict[str, str] | None:
    """The sha256 of every file of ``ref``'s lean artefact as recorded in the store when it was
    built; None when none (or no readable one) is recorded, or the store cannot be asked cheaply."""
    tag = checksum_tag(ref.source)
    path = sqlite_path(ref.tracking_uri)
    try:
        if path is not None:
            connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT_S)
            try:
                row = connection.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
                                         (ref.run_id, tag)).fetchone()
            finally:
                connection.close()
            return _checksums(row[0] if row else None)
        if ref.tracking_uri.startswith(("http://", "https://")):
            url = (f"{ref.tracking_uri.rstrip('/')}/api/2.0/mlflow/runs/get?"
                   f"{urllib.parse.urlencode({'run_id': ref.run_id})}")
            import urllib.request

            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                tags = json.loads(response.read())["run"]["data"].get("tags", [])
            return _checksums(next((t.get("value") for t in tags if t.get("key") == tag), None))
    except (sqlite3.Error, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None
