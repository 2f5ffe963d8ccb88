"""Load any stance corpus into a ``datasets.DatasetDict`` with one schema.

Every split has the columns ``id``, ``text``, ``target``, ``label`` (a ``ClassLabel`` over
:data:`stance.labels.LABELS`), ``group`` (the source document, used by grouped splitters),
``holder`` (empty where a corpus does not record it) and ``origin`` (``article`` for
statements from articles, ``written`` for statements the project wrote, ``table`` or
``tweet`` for other corpora). Splitters never put a ``written`` statement in a test fold.

Any corpus can be narrowed when loaded: ``groups`` keeps some documents (e.g. writing
batches), ``sample`` keeps a stratified, seeded ``N`` statements (nested: the first 100 of a
seed are among its first 200), and ``path`` may list several files of one format.

Three formats are read:

* ``annotations``: the project's JSONL records (see :mod:`stance.annotation.passes`);
* ``table``: any CSV or JSONL file with a text and a label column (label names mapped onto
  support/oppose/neutral through ``label_map``);
* ``tweeteval``: the TweetEval stance folder layout (``<target>/{split}_text.txt`` and
  ``{split}_labels.txt``), with its fixed train/validation/test splits.

A corpus without fixed splits comes back as a single ``train`` split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.io import TABLE_KINDS, parse_table, read_text
from stance.labels import LABELS

COLUMNS = ("id", "text", "target", "label", "group", "holder", "origin")
#: The origin of statements the project wrote: training data only, never tested on.
WRITTEN = "written"

#: TweetEval's label names, mapped onto ours.
TWEETEVAL_LABELS = {"favor": "support", "against": "oppose", "none": "neutral"}
#: TweetEval's split file prefixes -> our split names.
TWEETEVAL_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def features():
    """The ``datasets.Features`` shared by every corpus."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "target": Value("string"),
            "label": ClassLabel(names=list(LABELS)),
            "group": Value("string"),
            "holder": Value("string"),
            "origin": Value("string"),
        }
    )


def _to_dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    columns["label"] = [LABELS.index(label) for label in columns["label"]]
    return Dataset.from_dict(columns, features=features())


def _dataset_dict(splits: Mapping[str, list[dict[str, Any]]]):
    from datasets import DatasetDict

    return DatasetDict({name: _to_dataset(rows) for name, rows in splits.items()})


def load_annotations(path: str | Path):
    """The project's annotation records (``annotations/gold.jsonl``) as a single ``train`` split."""
    from stance.annotation.passes import origin_of, read_records
    from stance.io import iter_jsonl

    records = read_records(path)
    lines = [line for line, _ in iter_jsonl(path)]
    _unique_ids([(line, r["id"]) for line, r in zip(lines, records)], path)
    rows = [
        {"id": r["id"], "text": r["text"], "target": r["target"], "label": r["label"],
         "group": r["document"], "holder": r["holder"], "origin": origin_of(r)}
        for r in records
    ]
    return _dataset_dict({"train": rows})


def _unique_ids(numbered: list[tuple[int, str]], path: Path) -> None:
    """Ids key the out-of-fold predictions and the paired tests: a repeated one is an error
    naming both lines, before any training."""
    first: dict[str, int] = {}
    for line, row_id in numbered:
        if row_id in first:
            raise StanceError(f"duplicate id '{row_id}' (also on line {first[row_id]})", path=path, line=line)
        first[row_id] = line


def _map_label(raw: Any, label_map: Mapping[str, str], path: Path, line: int) -> str:
    key = str(raw).strip()
    if key in label_map:
        mapped = label_map[key]
    elif key.casefold() in {k.casefold() for k in label_map}:
        mapped = next(v for k, v in label_map.items() if k.casefold() == key.casefold())
    else:
        raise StanceError(f"unknown label '{key}' (known: {', '.join(map(str, label_map))})", path=path, line=line)
    if mapped not in LABELS:
        raise StanceError(f"label_map sends '{key}' to '{mapped}', which is not one of {', '.join(LABELS)}")
    return mapped


def _table_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Column names and ``(line, row)`` pairs of a CSV/TSV (header line 1) or JSONL file."""
    kind = TABLE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise StanceError("unsupported file type (expected .csv, .tsv or .jsonl)", path=path)
    names, rows, _ = parse_table(read_text(path, "data file"), path, kind)
    return names, rows


def load_table(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_map: Mapping[str, str] | None = None,
    target_column: str | None = None,
    target: str | None = None,
    id_column: str | None = None,
    group_column: str | None = None,
    holder_column: str | None = None,
    split_column: str | None = None,
):
    """A CSV/TSV/JSONL file with a text and a label column.

    ``label_map`` maps the file's label names onto support/oppose/neutral (default: the
    names themselves, case-insensitively). The target comes from ``target_column`` or,
    for a single-target file, from ``target``. Without ``group_column`` every row is its own
    group; without ``split_column`` all rows form the ``train`` split.
    """
    path = Path(path)
    label_map = dict(label_map) if label_map is not None else {name: name for name in LABELS}
    names, rows = _table_rows(path)
    required = [text_column, label_column] + [c for c in (target_column, id_column, group_column,
                                                          holder_column, split_column) if c]
    for column in required:
        if column not in names:
            raise StanceError(f"missing column '{column}' (columns: {', '.join(names) or 'none'})", path=path)
    if target_column is None and target is None:
        raise StanceError("no target: give target_column or target", path=path)
    splits: dict[str, list[dict[str, Any]]] = {}
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise StanceError(f"empty or missing '{text_column}'", path=path, line=number)
        row_id = str(row[id_column]) if id_column else f"{path.stem}:{number}"
        record = {
            "id": row_id,
            "text": text,
            "target": str(row[target_column]) if target_column else str(target),
            "label": _map_label(row.get(label_column), label_map, path, number),
            "group": str(row[group_column]) if group_column else row_id,
            "holder": str(row[holder_column]) if holder_column else "",
            "origin": "table",
        }
        splits.setdefault(str(row[split_column]) if split_column else "train", []).append(record)
    if not splits:
        raise StanceError("no rows", path=path)
    if id_column:
        _unique_ids([(number, str(row[id_column])) for number, row in rows], path)
    return _dataset_dict(splits)


def _tweeteval_mapping(root: Path) -> dict[str, str]:
    mapping_path = root / "mapping.txt"
    if not mapping_path.is_file():
        return {"0": "neutral", "1": "oppose", "2": "support"}
    mapping = {}
    for number, line in enumerate(read_text(mapping_path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[1].lower() not in TWEETEVAL_LABELS:
            raise StanceError(f"expected '<id> <none|against|favor>', got '{line.strip()}'", path=mapping_path,
                              line=number)
        mapping[parts[0]] = TWEETEVAL_LABELS[parts[1].lower()]
    return mapping


def load_tweeteval(path: str | Path, targets: list[str] | None = None, target_names: dict[str, str] | None = None):
    """The TweetEval stance folder: fixed train/validation/test splits.

    The target of a tweet is its folder's name, or ``target_names[folder]`` where given (e.g.
    "Legalization of Abortion" for ``abortion``: target-aware models read the target's words).
    """
    root = Path(path)
    if not root.is_dir():
        raise StanceError("TweetEval stance folder not found", path=root)
    available = sorted(p.name for p in root.iterdir() if (p / "train_text.txt").is_file())
    if not available:
        raise StanceError("no '<target>/train_text.txt' inside: not a TweetEval stance folder", path=root)
    chosen = list(targets) if targets else available
    for name in chosen:
        if name not in available:
            raise StanceError(f"unknown target '{name}' (available: {', '.join(available)})", path=root)
    mapping = _tweeteval_mapping(root)
    splits: dict[str, list[dict[str, Any]]] = {}
    for prefix, split in TWEETEVAL_SPLITS.items():
        for name in chosen:
            text_path = root / name / f"{prefix}_text.txt"
            label_path = root / name / f"{prefix}_labels.txt"
            texts = read_text(text_path, "TweetEval text file").splitlines()
            labels = read_text(label_path, "TweetEval label file").splitlines()
            if len(texts) != len(labels):
                raise StanceError(f"{len(texts)} tweets but {len(labels)} labels in {label_path.name}",
                                  path=text_path)
            for number, (text, raw) in enumerate(zip(texts, labels), start=1):
                row_id = f"{name}/{prefix}/{number}"
                splits.setdefault(split, []).append(
                    {"id": row_id, "text": text.strip(), "target": (target_names or {}).get(name, name),
                     "label": _map_label(raw, mapping, label_path, number), "group": row_id, "holder": "",
                     "origin": "tweet"}
                )
    return _dataset_dict(splits)


FORMATS = {"annotations": load_annotations, "table": load_table, "tweeteval": load_tweeteval}


def detect_format(path: str | Path) -> str:
    """Guess the format: a folder is TweetEval; a JSONL file of full records is annotations."""
    path = Path(path)
    if path.is_dir():
        return "tweeteval"
    if path.suffix.lower() == ".jsonl" and path.is_file():
        first = next((line for line in read_text(path).splitlines() if line.strip()), "")
        try:
            record = json.loads(first)
        except json.JSONDecodeError:
            return "table"
        if isinstance(record, dict) and {"document", "holder", "annotator"} <= record.keys():
            return "annotations"
    return "table"


def load_corpus(path, format: str = "auto", *, groups=None, sample: int | None = None, seed: int = 0,
                **options: Any):
    """Load a stance corpus in any supported format (see the module docstring).

    ``path`` is a file or folder, or a list of them (their splits are concatenated).
    ``groups`` keeps only these groups (documents); ``sample`` keeps a stratified, seeded
    ``sample`` statements of the ``train`` split. ``options`` go to the format's loader
    (e.g. ``label_map`` and column names for tables, ``targets`` for TweetEval).
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise StanceError("no corpus path given")
    corpora = [_load_one(p, format, options) for p in paths]
    if len(corpora) > 1:
        seen: dict[str, Path] = {}
        for source, loaded in zip(paths, corpora):
            for name in loaded:
                for row_id in loaded[name]["id"]:
                    if seen.get(row_id, source) != source:
                        raise StanceError(f"duplicate id '{row_id}': also in {seen[row_id]}", path=source)
                    seen[row_id] = source
    corpus = corpora[0] if len(corpora) == 1 else _concatenate(corpora)
    if groups is not None:
        wanted = {str(g) for g in groups}
        missing = wanted - {g for name in corpus for g in corpus[name]["group"]}
        if missing:
            raise StanceError(f"no statements of group(s) {', '.join(sorted(missing))}", path=paths[0])
        corpus = corpus.filter(lambda row: row["group"] in wanted)
    if sample is not None and "train" in corpus:
        corpus["train"] = stratified_sample(corpus["train"], sample, seed)
    return corpus


def stratified_sample(dataset, n: int, seed: int = 0):
    """The first ``n`` statements of a seeded order that interleaves the labels in proportion,
    so every sample keeps the label mix and a smaller sample is part of a larger one."""
    import numpy as np

    if n < 0:
        raise StanceError(f"sample must be 0 or more statements, got {n}")
    if n >= len(dataset):
        return dataset
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset["label"])
    order = rng.permutation(len(labels))
    rank = np.empty(len(labels))
    for label in np.unique(labels):
        members = order[labels[order] == label]
        rank[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return dataset.select(sorted(np.argsort(rank, kind="stable")[:n].tolist()))


def _concatenate(corpora):
    from datasets import DatasetDict, concatenate_datasets

    names = list(dict.fromkeys(name for corpus in corpora for name in corpus))
    return DatasetDict({name: concatenate_datasets([c[name] for c in corpora if name in c]) for name in names})


def _load_one(path, format: str, options: dict[str, Any]):
    path = Path(path)
    if not path.exists():
        raise StanceError("corpus not found", path=path)
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise StanceError(f"unknown corpus format '{fmt}' (expected one of: auto, {', '.join(FORMATS)})")
    try:
        return FORMATS[fmt](path, **options)
    except TypeError as exc:  # an option this format does not take
        raise StanceError(f"format '{fmt}': {exc}") from None
