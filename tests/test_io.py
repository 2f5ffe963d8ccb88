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


def test_atomic_write_of_a_figure_like_writer_leaves_nothing_behind_on_failure(tmp_path):
    from stance.io import atomic_write

    path = tmp_path / "figure.png"
    atomic_write(path, lambda tmp: tmp.write_bytes(b"png"))
    assert path.read_bytes() == b"png"

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"png" and [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_replace_folder_swaps_whole_folders(tmp_path):
    from stance.io import replace_folder

    folder = tmp_path / "artefact"
    for content in ("old", "new"):
        scratch = tmp_path / f".scratch-{content}"
        scratch.mkdir()
        (scratch / "file.txt").write_text(content)
        replace_folder(scratch, folder)
        assert (folder / "file.txt").read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artefact"]


def test_read_jsonl_stops_at_the_first_bad_line(tmp_path):
    from stance.io import read_jsonl

    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    assert read_jsonl(path) == [(1, {"id": "a"}), (3, {"id": "b"})]
    path.write_text('{"id": "a"}\n{"id": \n{"id": "c"}\n')
    with pytest.raises(StanceError, match=r"s\.jsonl:2: "):
        read_jsonl(path)
