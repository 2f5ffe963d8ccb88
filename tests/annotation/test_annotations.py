import json

import pytest

from stance.annotation.passes import RECORD_FIELDS, adjudicate, import_sheet, read_records, validate_file
from stance.errors import StanceError
from tests_helpers import corrupt_copy

SPEC_FIELDS = {"id", "document", "start", "end", "text", "target", "label", "holder", "annotator"}


def test_gold_and_passes_validate(root):
    for path in [root / "annotations/gold.jsonl", *sorted((root / "annotations/passes").glob("*.jsonl"))]:
        assert validate_file(path, root / "seeds") == [], path


def test_every_record_has_the_spec_fields_and_a_rationale(root):
    for record in read_records(root / "annotations/gold.jsonl"):
        assert SPEC_FIELDS <= record.keys()
        assert record["rationale"].strip() and "\n" not in record["rationale"]


def test_validate_reports_each_problem_with_its_line(root, tmp_path):
    bad = tmp_path / "bad.jsonl"
    last = corrupt_copy(root / "annotations/gold.jsonl", bad)
    problems = validate_file(bad, root / "seeds")
    found = {(p.line, p.reason.split(" ")[0]) for p in problems}
    assert (2, "unknown") in found
    assert (3, "span") in found
    assert (4, "duplicate") in found
    assert (last, "invalid") in found
    assert len(problems) == 4
    assert all(str(p).startswith(f"{bad}:{p.line}: ") for p in problems)


def test_validate_finds_duplicate_statements_and_missing_fields(tiny_gold, tiny_seeds, tmp_path):
    records = [json.loads(line) for line in tiny_gold.read_text().splitlines()]
    dup = dict(records[0], id="another-id")
    missing = {k: v for k, v in records[1].items() if k != "holder"}
    path = tmp_path / "dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records, dup, missing]))
    reasons = [p.reason for p in validate_file(path, tiny_seeds)]
    assert any(r.startswith("duplicate statement: same span") for r in reasons)
    assert "missing field 'holder'" in reasons


def test_validate_names_a_missing_document(tiny_gold, tmp_path):
    empty = tmp_path / "no-seeds"
    empty.mkdir()
    problems = validate_file(tiny_gold, empty)
    assert problems and all("not found" in p.reason for p in problems)


def test_read_records_stops_at_the_first_bad_line(root, tmp_path):
    bad = tmp_path / "bad.jsonl"
    corrupt_copy(root / "annotations/gold.jsonl", bad)
    with pytest.raises(StanceError, match=r"bad\.jsonl:2: unknown label 'favour'"):
        read_records(bad)


def statements_of(tiny_gold):
    return [{k: r[k] for k in ("id", "document", "start", "end", "text", "target")}
            for r in read_records(tiny_gold)]


def test_import_sheet_joins_labels_with_statements(tiny_gold, tmp_path):
    statements = statements_of(tiny_gold)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label,holder,rationale\n" + "".join(f"{s['id']},neutral,author,none\n" for s in statements))
    records = import_sheet(sheet, statements, "tester")
    assert [r["id"] for r in records] == [s["id"] for s in statements]
    assert list(records[0]) == list(RECORD_FIELDS)
    assert {r["annotator"] for r in records} == {"tester"}


def test_import_sheet_errors(tiny_gold, tmp_path):
    statements = statements_of(tiny_gold)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label,holder\n")
    with pytest.raises(StanceError, match="missing column 'rationale'"):
        import_sheet(sheet, statements, "t")
    sheet.write_text("id,label,holder,rationale\n" + f"{statements[0]['id']},pro,x,y\n")
    with pytest.raises(StanceError, match=r"sheet\.csv:2: unknown label 'pro'"):
        import_sheet(sheet, statements, "t")
    sheet.write_text("id,label,holder,rationale\n" + f"{statements[0]['id']},oppose,x,y\n")
    with pytest.raises(StanceError, match=f"{len(statements) - 1} statements not labelled"):
        import_sheet(sheet, statements, "t")


def test_committed_gold_is_the_adjudication_of_the_passes(root):
    a = read_records(root / "annotations/passes/annotator-a.jsonl")
    b = read_records(root / "annotations/passes/annotator-b.jsonl")
    assert adjudicate(a, b, root / "annotations/adjudication.csv", root / "annotations/corrections.csv") == \
        read_records(root / "annotations/gold.jsonl")
    w = root / "annotations/written"
    assert adjudicate(read_records(w / "passes/writers.jsonl"), read_records(w / "passes/blind.jsonl"),
                      w / "adjudication.csv") == read_records(w / "gold.jsonl")


def test_adjudicate_refuses_undecided_and_needless_decisions(tiny_gold, tmp_path):
    a = read_records(tiny_gold)
    b = [dict(r, annotator="b") for r in a]
    b[0]["label"] = "neutral" if a[0]["label"] != "neutral" else "oppose"
    decisions = tmp_path / "decisions.csv"
    decisions.write_text("id,label,holder,note\n")
    with pytest.raises(StanceError, match="1 disagreements without a decision"):
        adjudicate(a, b, decisions)
    decisions.write_text(f"id,label,holder,note\n{a[1]['id']},oppose,x,y\n")
    with pytest.raises(StanceError, match="which the passes agree on"):
        adjudicate(a, b, decisions)
    decisions.write_text(f"id,label,holder,note\n{a[0]['id']},{b[0]['label']},someone,B was right\n")
    gold = adjudicate(a, b, decisions)
    assert gold[0]["label"] == b[0]["label"] and gold[0]["adjudication"] == "B was right"
    assert gold[1]["label"] == a[1]["label"] and "adjudication" not in gold[1]


def test_datasheet_figures_are_up_to_date(root):
    from stance.annotation.datasheet import render_datasheet

    readme = (root / "annotations/README.md").read_text(encoding="utf-8")
    a = root / "annotations"
    assert render_datasheet(readme, gold=a / "gold.jsonl", first=a / "passes/annotator-a.jsonl",
                            second=a / "passes/annotator-b.jsonl", guidelines=a / "GUIDELINES.md") == readme
