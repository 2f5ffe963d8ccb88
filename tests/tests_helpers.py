"""Helpers shared by test modules (plain functions, not fixtures)."""

import json


def corrupt_copy(src, dest):
    """A copy of an annotation file with a bad label (line 2), a wrong span (line 3), a
    duplicate id (line 4) and a truncated last line; returns the last line's number."""
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    records[1]["label"] = "favour"
    records[2]["start"] += 1
    records[3]["id"] = records[0]["id"]
    out = [json.dumps(r, ensure_ascii=False) for r in records]
    out[-1] = out[-1][: len(out[-1]) // 2]
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)
