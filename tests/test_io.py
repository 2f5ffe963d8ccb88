import pytest

from stance.errors import StanceError
from stance.io import atomic_write_text, parse_table


def test_csv_line_numbers_survive_quoted_newlines():
    names, rows, blank = parse_table('text,label\n"two\nlines",oppose\nplain,neutral\n', "t.csv", "csv")
    assert names == ["text", "label"] and blank == 0
    assert [(line, row["text"]) for line, row in rows] == [(3, "two\nlines"), (4, "plain")]


def test_jsonl_counts_blank_lines_and_names_bad_ones():
    names, rows, blank = parse_table('{"text": "a"}\n\n{"text": "b", "id": 1}\n', "t.jsonl", "jsonl")
    assert names == ["text", "id"] and blank == 1 and [line for line, _ in rows] == [1, 3]
    with pytest.raises(StanceError, match=r"t\.jsonl:2: invalid JSON"):
        parse_table('{"text": "a"}\n{"text": \n', "t.jsonl", "jsonl")
    with pytest.raises(StanceError, match=r"t\.jsonl:1: expected a JSON object"):
        parse_table('["a"]\n', "t.jsonl", "jsonl")
    with pytest.raises(StanceError, match="unsupported file type"):
        parse_table("x", "t.xml", "xml")


def test_atomic_write_replaces_whole_files_only(tmp_path):
    path = tmp_path / "out.txt"
    assert atomic_write_text(path, "one\n") is True
    assert atomic_write_text(path, "one\n") is False
    assert atomic_write_text(path, "two\n") is True and path.read_text() == "two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
