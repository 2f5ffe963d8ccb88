import json

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


#: Every character str.splitlines() breaks a line at, besides \n and \r.
BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def test_jsonl_records_survive_every_unicode_line_break(tmp_path):
    from stance.io import dumps_jsonl, iter_jsonl, read_jsonl

    records = [{"id": f"a{ch}b", "text": f"one{ch}two"} for ch in BREAKS] + [{"id": "last", "text": "x"}]
    text = dumps_jsonl(records)
    assert len(text.splitlines()) == len(records) == len(text.split("\n")) - 1  # one physical line each
    assert not any(ch in text for ch in BREAKS)  # escaped in the file, whatever reads it
    path = tmp_path / "r.jsonl"
    path.write_text(text, encoding="utf-8")
    assert [record for _, record in read_jsonl(path)] == records
    # a file written by another tool with the separators raw is still read one record a line
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in records)
    assert any(ch in raw for ch in "\u2028\x85")
    path.write_text(raw, encoding="utf-8", newline="")
    assert [(line, record) for line, record in iter_jsonl(path)] == list(enumerate(records, start=1))
    names, rows, blank = parse_table(raw, "t.jsonl", "jsonl")
    assert [row for _, row in rows] == records and blank == 0


def test_csv_cells_with_unicode_line_breaks_stay_in_their_row():
    text = "id,text\n" + "".join(f'{k},"x{ch}y"\n' for k, ch in enumerate(BREAKS))
    names, rows, _ = parse_table(text, "t.csv", "csv")
    assert [(line, row["text"]) for line, row in rows] == [(k + 2, f"x{ch}y") for k, ch in enumerate(BREAKS)]


def test_a_write_that_may_not_replace_refuses_other_content_and_keeps_identical(tmp_path):
    path = tmp_path / "pass.jsonl"
    path.write_text("labelled\n")
    with pytest.raises(StanceError, match=r"pass\.jsonl: already exists with other content: pass --force"):
        atomic_write_text(path, "other\n", replace=False)
    assert path.read_text() == "labelled\n"
    assert atomic_write_text(path, "labelled\n", replace=False) is False
    assert atomic_write_text(tmp_path / "new.jsonl", "new\n", replace=False) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.jsonl", "pass.jsonl"]


def test_a_write_that_may_not_replace_loses_a_race_without_replacing(tmp_path):
    from stance.io import atomic_write

    path = tmp_path / "gold.jsonl"

    def meanwhile(tmp):  # another process makes the file while this one writes its own
        path.write_text("theirs\n")
        tmp.write_text("mine\n")

    with pytest.raises(StanceError, match=r"gold\.jsonl: already exists"):
        atomic_write(path, meanwhile, replace=False)
    assert path.read_text() == "theirs\n" and [p.name for p in tmp_path.iterdir()] == ["gold.jsonl"]


def test_atomic_write_text_refuses_a_folder(tmp_path):
    (tmp_path / "out.jsonl").mkdir()
    with pytest.raises(StanceError, match=r"out\.jsonl: exists and is not a file"):
        atomic_write_text(tmp_path / "out.jsonl", "x\n")


def test_atomic_writes_make_files_with_the_usual_mode_and_keep_a_replaced_files_mode(tmp_path):
    import os
    import stat

    from stance.io import atomic_write_text

    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        atomic_write_text(new, "a\n")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # as open() makes it, not mkstemp's 0600
        kept = tmp_path / "kept.txt"
        kept.write_text("a\n")
        kept.chmod(0o640)
        atomic_write_text(kept, "b\n")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "b\n"
    finally:
        os.umask(old)
