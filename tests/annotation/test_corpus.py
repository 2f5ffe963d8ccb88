import hashlib
import json
import re

from stance.annotation.corpus import extract, extract_document, write_statements
from stance.labels import LABELS


def test_seeds_match_their_checksums(root):
    listed = dict(
        (name, digest)
        for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+\.txt)$", (root / "seeds/README.md").read_text(), re.M)
    )
    files = sorted(p.name for p in (root / "seeds").glob("*.txt"))
    assert sorted(listed) == files and len(files) == 5
    for name in files:
        assert hashlib.sha256((root / "seeds" / name).read_bytes()).hexdigest() == listed[name]


def test_seeds_are_byte_identical_to_the_shared_ones(root, shared):
    shared_files = sorted(p.name for p in (shared / "seeds").glob("*.txt"))
    assert shared_files == sorted(p.name for p in (root / "seeds").glob("*.txt"))
    for name in shared_files:
        assert (root / "seeds" / name).read_bytes() == (shared / "seeds" / name).read_bytes()


def test_committed_statements_are_what_extract_makes(root):
    committed = [json.loads(line) for line in (root / "annotations/statements.jsonl").read_text().splitlines()]
    assert committed == extract(root / "seeds")


def test_every_span_is_exact_and_ids_unique(root):
    records = extract(root / "seeds")
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        article = (root / "seeds" / f"{r['document']}.txt").read_text(encoding="utf-8")
        assert article[r["start"] : r["end"]] == r["text"]


def test_rerunning_extract_changes_nothing(tiny_seeds, tmp_path):
    out = tmp_path / "statements.jsonl"
    assert write_statements(extract(tiny_seeds), out) is True
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    assert write_statements(extract(tiny_seeds), out) is False
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before


def test_ids_do_not_depend_on_position():
    doc = "Russia rejects the plan. France backs it."
    ids = {r["text"]: r["id"] for r in extract_document("d", doc)}
    shifted = {r["text"]: r["id"] for r in extract_document("d", "A New Headline\n" + doc)}
    assert shifted["Russia rejects the plan."] == ids["Russia rejects the plan."]
    assert shifted["France backs it."] == ids["France backs it."]


def test_repeated_sentence_in_one_article_gets_distinct_ids():
    records = extract_document("d", "Troops stay out. Troops stay out.")
    assert len(records) == 2 and records[0]["id"] != records[1]["id"]


def test_gold_covers_every_extracted_statement(root):
    gold = [json.loads(line) for line in (root / "annotations/gold.jsonl").read_text().splitlines()]
    assert [g["id"] for g in gold] == [s["id"] for s in extract(root / "seeds")]
    assert {g["label"] for g in gold} == set(LABELS)
