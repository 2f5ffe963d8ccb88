"""`stance predict -i` keeps the input's other columns: read with the statements, written after the
prediction columns, never overwriting one."""

import csv
import io
import json

from stance.labels import LABELS
from stance.serving.output import COLUMNS, pass_through, write_predictions
from stance.serving.rows import read_statements


def fake_predictions(given):
    """Prediction rows as classify makes them (values made up: only the columns matter here)."""
    return [{**row, "label": LABELS[k % 3], "confidence": 0.5, **{f"p_{label}": 1 / 3 for label in LABELS}}
            for k, row in enumerate(given.rows)]


def test_csv_extra_columns_are_read_in_order_without_the_standard_ones(tmp_path):
    (tmp_path / "in.csv").write_text("date,id,text,holder,target,url\n2025-01-02,a,One,Macron,t,https://x.fr/1\n"
                                     ",b,,Nobody,,\n2025-01-03,c,Two,,,\n")
    given = read_statements(path=tmp_path / "in.csv")
    assert given.extra_columns == ["date", "holder", "url"]
    assert given.extra == [{"date": "2025-01-02", "holder": "Macron", "url": "https://x.fr/1"},
                           {"date": "2025-01-03", "holder": "", "url": ""}]  # the blank row's are dropped with it
    assert given.blank == 1 and [r["id"] for r in given.rows] == ["a", "c"]


def test_plain_text_and_arguments_have_no_extra_columns(tmp_path):
    (tmp_path / "in.txt").write_text("One.\nTwo.\n")
    assert read_statements(path=tmp_path / "in.txt").extra_columns == []
    assert read_statements(["One."]).extra == []


def test_clashing_columns_are_renamed_never_overwritten(tmp_path):
    (tmp_path / "old.jsonl").write_text(json.dumps({"text": "One", "label": "oppose", "input_label": "x",
                                                    "confidence": 0.9, "meta": {"page": 2}}) + "\n")
    given = read_statements(path=tmp_path / "old.jsonl")
    rows, columns = pass_through(fake_predictions(given), given.extra_columns, given.extra)
    assert columns == [*COLUMNS, "input_input_label", "input_label", "input_confidence", "meta"]
    [row] = rows
    assert row["label"] == "support" and row["confidence"] == 0.5  # the prediction's, not the input's
    assert row["input_input_label"] == "oppose" and row["input_label"] == "x" and row["input_confidence"] == 0.9
    out = json.loads(write_predictions(rows, fmt="jsonl", columns=columns))
    assert list(out) == columns and out["meta"] == {"page": 2}
    [line] = list(csv.DictReader(io.StringIO(write_predictions(rows, fmt="csv", columns=columns))))
    assert json.loads(line["meta"]) == {"page": 2} and line["input_input_label"] == "oppose"


def test_another_text_column_keeps_the_inputs_text_column_apart(tmp_path):
    (tmp_path / "in.tsv").write_text("body\ttext\nThe statement\tan unrelated note\n")
    given = read_statements(path=tmp_path / "in.tsv", text_column="body")
    rows, columns = pass_through(fake_predictions(given), given.extra_columns, given.extra)
    assert rows[0]["text"] == "The statement" and rows[0]["input_text"] == "an unrelated note"
    assert columns[-1] == "input_text"
