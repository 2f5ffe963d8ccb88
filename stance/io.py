"""Small file helpers: atomic writes (files and folders), line-numbered JSONL reading, and where
the cache lives. Every write of the package that must never be seen half-done goes through here."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stance.errors import StanceError


def cache_dir() -> Path:
    """Where derived files are kept between runs (unpacked encoders, lean artefacts):
    ``$STANCE_CACHE``, else ``~/.cache/stance``."""
    return Path(os.environ.get("STANCE_CACHE") or Path.home() / ".cache" / "stance")


#: Why a write that may not replace a file stopped (the commands' ``--force`` replaces it).
EXISTS = "already exists with other content: pass --force to replace it"


def atomic_write(path: str | Path, write: Callable[[Path], Any], *, replace: bool = True) -> None:
    """Make ``path`` by calling ``write`` on a temporary file beside it, then renaming that file into
    place: a reader sees the old file or the whole new one, never a half-written one (figures are
    written this way: ``atomic_write(p, lambda tmp: figure.savefig(tmp, format="png"))``).

    ``replace=False`` never replaces a file: the temporary file is hard-linked to ``path``, which
    fails if ``path`` exists, even one made by another process a moment before (a StanceError)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # mkstemp makes the file 0600: give it the mode of the file it replaces, or the one a plain
        # open() would (0666 less the umask), so a shared project stays readable by its group
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~_umask())
        write(Path(tmp))
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(Path(tmp), path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    """This process's umask, read without changing it (Linux), else by setting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise StanceError(EXISTS, path=path) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise StanceError(EXISTS, path=path) from None
        os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (raw data, byte for byte)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str, *, replace: bool = True) -> bool:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file. Returns False (and leaves the file, its
    timestamp included, untouched) when the content is already identical. ``replace=False``
    refuses (a StanceError naming the file) to replace a file with other content.
    """
    path = Path(path)
    if os.path.lexists(path):
        if not path.is_file():
            raise StanceError("exists and is not a file", path=path)
        if path.read_bytes() == text.encode("utf-8"):
            return False
        if not replace:
            raise StanceError(EXISTS, path=path)

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)

    atomic_write(path, write, replace=replace)
    return True


def replace_folder(new: str | Path, folder: str | Path) -> None:
    """Put the folder ``new`` (made beside ``folder``) at ``folder`` by renames: an old folder is
    moved aside first and removed after, so a reader never sees a half-made one. If another process
    put its own (equally fresh) folder there in between, that one is kept."""
    new, folder = Path(new), Path(folder)
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        try:
            folder.rename(old)
        except FileNotFoundError:  # another process moved it first
            old = None
    try:
        new.rename(folder)
    except OSError:
        if not folder.is_dir():
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


#: Line breaks that ``json.dumps(ensure_ascii=False)`` leaves raw in strings (it escapes those
#: below U+0020): escaped, so that no reader that splits lines more eagerly than JSON Lines does
#: (``str.splitlines``, editors, ``grep``) cuts a record in two.
_RAW_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dumps_jsonl(records: list[dict[str, Any]]) -> str:
    """One compact JSON object a line, keys in insertion order, UTF-8 kept readable, every
    Unicode line break inside a string escaped (one record is always one line)."""
    return "".join(json.dumps(r, ensure_ascii=False).translate(_RAW_BREAKS) + "\n" for r in records)


def read_text(path: str | Path, what: str = "file") -> str:
    """Read a UTF-8 text file, turning a missing or undecodable file into a StanceError."""
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{what} not found", path=path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StanceError("not valid UTF-8", path=path, line=line) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | StanceError]]:
    """Yield ``(line_number, record)`` for each non-blank line of a JSONL file.

    A line that is not a JSON object yields a StanceError instead of a record, so that a
    validator can report every bad line rather than stopping at the first.
    """
    text = read_text(path, "JSONL file")
    for number, line in enumerate(json_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, StanceError(f"invalid JSON ({exc.msg}; truncated line?)", path=path, line=number)
            continue
        if not isinstance(record, dict):
            yield number, StanceError("expected a JSON object", path=path, line=number)
            continue
        yield number, record


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Every record of a JSONL file with its line number, stopping at the first malformed line
    with an error naming the file and the line."""
    rows = []
    for line, record in iter_jsonl(path):
        if isinstance(record, StanceError):
            raise record
        rows.append((line, record))
    return rows


def json_lines(text: str) -> list[str]:
    """The lines of a JSONL text: split at ``\n`` only (``\r\n`` too), as JSON Lines says, not at
    the Unicode line breaks (U+2028, U+0085, ...) that ``str.splitlines`` also splits at and
    that JSON strings may hold unescaped."""
    lines = text.split("\n")
    if lines[-1] == "":  # the final newline ends the last line; it does not start another
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


#: File suffix -> table kind understood by :func:`parse_table`.
TABLE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


def parse_table(text: str, name: str | Path, kind: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]], int]:
    """Column names, ``(line, row)`` pairs and the number of blank lines of a CSV/TSV/JSONL text.

    Line numbers are physical lines (a quoted newline in a CSV cell keeps them true); a
    malformed line is a StanceError naming ``name`` and the line.
    """
    if kind == "jsonl":
        names: list[str] = []
        rows, blank = [], 0
        for number, line in enumerate(json_lines(text), start=1):
            if not line.strip():
                blank += 1
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StanceError(f"invalid JSON ({exc.msg})", path=name, line=number) from None
            if not isinstance(row, dict):
                raise StanceError("expected a JSON object", path=name, line=number)
            names.extend(k for k in row if k not in names)
            rows.append((number, row))
        return names, rows, blank
    if kind not in ("csv", "tsv"):
        raise StanceError("unsupported file type (expected .csv, .tsv or .jsonl)", path=name)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if kind == "tsv" else ",")
    names = list(reader.fieldnames or [])
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise StanceError(f"malformed CSV ({exc})", path=name, line=reader.line_num) from None
        rows.append((reader.line_num, row))
    return names, rows, 0
