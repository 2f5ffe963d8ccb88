"""Sentence vectors on disk, addressed by content: each text is encoded once per encoder, device
kind and precision, across folds, models, runs and experiments.

A frozen encoder maps a text to the same vector every time, so the vector is a pure function of
(the encoder's weights, where it ran, its precision, the text). The cache keys it by exactly that:

* the encoder by a **fingerprint of its files** (SHA-256 over every file's name and content: a
  re-trained or re-downloaded encoder with other weights gets another key, whatever its folder
  is called). Hashing a 400 MB weights file takes about a second, so the fingerprint is kept
  beside the cache, keyed by the folder's file names, sizes and modification times;
* the device kind (``cpu``, ``cuda``) and precision (``fp32``), because vectors from different
  kernels differ in their last bits and the same config must give the same numbers;
* the text by its SHA-256.

It lives in ``$STANCE_EMBEDDING_CACHE`` (default ``$STANCE_CACHE/embeddings``, i.e.
``~/.cache/stance/embeddings``): one SQLite file per (encoder, device kind, precision), which
several processes (the jobs of a sweep) read and write at once. ``STANCE_EMBEDDING_CACHE=off``
switches it off. A cache that cannot be written or read (a read-only folder, a damaged file) is
skipped with one warning: the vectors are then computed, as without a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from pathlib import Path

import numpy as np

log = logging.getLogger("stance")

#: The environment variable that moves (a folder) or switches off (``off``) the cache.
ENV = "STANCE_EMBEDDING_CACHE"
#: Texts looked up per SQL statement (SQLite allows 32,766 parameters; stay well below).
_CHUNK = 500
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"


def cache_folder() -> Path | None:
    """The cache's folder, or None when ``$STANCE_EMBEDDING_CACHE`` is ``off``."""
    from stance.io import cache_dir

    value = os.environ.get(ENV, "").strip()
    if value.lower() in {"off", "0", "false", "no"}:
        return None
    return Path(value) if value else cache_dir() / "embeddings"


def _stamp(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*") if p.is_file())


def encoder_fingerprint(model_dir: str | Path, remember: Path | None = None) -> str:
    """SHA-256 over the names and contents of every file in an encoder's folder.

    Parameters
    ----------
    model_dir : str or Path
        The encoder's folder (as ``from_pretrained`` reads it).
    remember : Path or None, default=None
        A folder where the fingerprint is kept, keyed by the files' names, sizes and modification
        times, so that it is computed once (hashing the weights takes about a second).

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    folder = Path(model_dir).resolve()
    stamp = _stamp(folder)
    note = None
    if remember is not None:
        note = remember / f"fingerprint-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}.json"
        try:
            kept = json.loads(note.read_text())
            if kept.get("stamp") == [list(s) for s in stamp]:
                return kept["sha256"]
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(name.encode() + b"\0")
        with (folder / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        digest.update(b"\0")
    fingerprint = digest.hexdigest()
    if note is not None:
        try:
            from stance.io import atomic_write_text

            atomic_write_text(note, json.dumps({"folder": str(folder), "stamp": stamp, "sha256": fingerprint}))
        except OSError:
            pass
    return fingerprint


def text_key(text: str) -> bytes:
    """The content address of a text: its SHA-256 (32 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """The vectors of one encoder on one device kind in one precision, in a SQLite file.

    Parameters
    ----------
    folder : Path
        The cache's folder (:func:`cache_folder`).
    encoder : str
        The encoder's fingerprint (:func:`encoder_fingerprint`) or, for a model named by a hub id,
        the id.
    device : str
        ``cpu`` or ``cuda`` (the kind, not the card's number).
    precision : str, default="fp32"
        The dtype the encoder ran in.
    """

    def __init__(self, folder: Path, encoder: str, device: str, precision: str = "fp32"):
        self.folder = Path(folder)
        name = hashlib.sha256(encoder.encode()).hexdigest()[:24] if not _is_hex(encoder) else encoder[:24]
        self.path = self.folder / f"{name}-{device.split(':')[0]}-{precision}.sqlite"
        self.broken = False

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_SCHEMA)
        return connection

    def _skip(self, exc: Exception) -> None:
        if not self.broken:
            log.warning("embedding cache %s not used (%s): computing the vectors", self.path, exc)
        self.broken = True

    def get(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``texts`` (those found), by text."""
        if self.broken or not texts or not self.path.is_file():
            return {}
        keys = {text_key(t): t for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        try:
            with contextlib.closing(self._connect()) as connection:
                ordered = list(keys)
                for start in range(0, len(ordered), _CHUNK):
                    chunk = ordered[start:start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for key, blob in connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                        found[keys[bytes(key)]] = np.frombuffer(blob, dtype=np.float32).copy()
        except (sqlite3.Error, OSError) as exc:
            self._skip(exc)
            return {}
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        """Store vectors by text (a text already there keeps its vector)."""
        if self.broken or not vectors:
            return
        rows = [(text_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        try:
            with contextlib.closing(self._connect()) as connection, connection:
                connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
        except (sqlite3.Error, OSError) as exc:
            self._skip(exc)


def _is_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
