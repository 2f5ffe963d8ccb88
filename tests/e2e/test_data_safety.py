"""Data safety through the command line: nothing labelled is replaced without --force, records
stay one line each whatever characters they hold, limits on what is read are clear errors,
terminal tables show control characters escaped, and suggest never offers a labelled statement."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from stance.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"
STANCE = str(Path(sys.executable).with_name("stance"))
EVIL = "\x1b[31mred\x1b[0m\x1b]0;pwned\x07 [bold]x[/bold] \u202etxt.exe"


def stance(*args, cwd):
    """The real console script, in a subprocess."""
    return subprocess.run([STANCE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def run(project_copy, monkeypatch):
    monkeypatch.chdir(project_copy)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def refused(result, path: str) -> bool:
    return (result.exit_code == 2 and result.stdout == ""
            and result.stderr == f"error: {path}: already exists with other content: pass --force to replace it\n")


# ----------------------------------------------------------------------------- 1. --force
def _export(statements: list[dict], label: str) -> list[dict]:
    return [{"id": k, "data": {key: s[key] for key in ("id", "document", "start", "end", "text", "target")},
             "annotations": [{"id": k, "completed_by": 1, "result": [
                 {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
                 {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": ["author"]}}]}]}
            for k, s in enumerate(statements, start=1)]


def test_labelstudio_import_never_replaces_an_annotators_pass_without_force(project_copy):
    passes = project_copy / "annotations/passes"
    before = (passes / "annotator-a.jsonl").read_bytes()
    statements = [json.loads(line) for line in (project_copy / "annotations/statements.jsonl").read_text().splitlines()]
    (project_copy / "export.json").write_text(json.dumps(_export(statements[:3], "neutral")))
    out = stance("labelstudio", "import", "export.json", "--annotator", "annotator-a", cwd=project_copy)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("error: annotations/passes/annotator-a.jsonl: already exists with other content: "
                          "pass --force to replace it\n")
    assert (passes / "annotator-a.jsonl").read_bytes() == before
    assert sorted(p.name for p in passes.iterdir()) == ["annotator-a.jsonl", "annotator-b.jsonl"]  # no temp file

    out = stance("labelstudio", "import", "export.json", "--annotator", "annotator-a", "--force", cwd=project_copy)
    assert out.returncode == 0 and "3 annotations by annotator-a -> annotations/passes/annotator-a.jsonl" in out.stdout
    written = (passes / "annotator-a.jsonl").read_bytes()
    assert [json.loads(line)["label"] for line in written.decode().splitlines()] == ["neutral"] * 3
    out = stance("labelstudio", "import", "export.json", "--annotator", "annotator-a", cwd=project_copy)
    assert out.returncode == 0 and "(unchanged)" in out.stdout
    assert (passes / "annotator-a.jsonl").read_bytes() == written


def test_labelstudio_import_of_statements_that_do_not_exist_is_an_error(project_copy):
    statements = [json.loads(line) for line in (project_copy / "annotations/statements.jsonl").read_text().splitlines()]
    ghost = {**statements[0], "id": "009_ghost:00000000", "document": "009_ghost"}
    (project_copy / "export.json").write_text(json.dumps(_export([statements[1], ghost], "oppose")))
    out = stance("labelstudio", "import", "export.json", "--annotator", "c", cwd=project_copy)
    assert out.returncode == 2 and out.stderr == ("error: export.json: task 2: statement '009_ghost:00000000' is not "
                                                  "one of the statements given\n")
    assert not (project_copy / "annotations/passes/c.jsonl").exists()


def _all_neutral_sheet(project_copy) -> Path:
    statements = [json.loads(line) for line in (project_copy / "annotations/statements.jsonl").read_text().splitlines()]
    sheet = project_copy / "sheet.csv"
    sheet.write_text("id,label,holder,rationale\n" + "".join(f"{s['id']},neutral,author,x\n" for s in statements))
    return sheet


@pytest.mark.parametrize("command, out", [
    (["corpus", "extract", "--out", "annotations/gold.jsonl"], "annotations/gold.jsonl"),
    (["annotations", "import", "sheet.csv", "--annotator", "annotator-b",
      "--out", "annotations/passes/annotator-b.jsonl"], "annotations/passes/annotator-b.jsonl"),
    (["annotations", "adjudicate", "--out", "annotations/gold-new.jsonl"], "annotations/gold-new.jsonl"),
])
def test_writing_commands_refuse_to_replace_other_content_without_force(run, project_copy, command, out):
    _all_neutral_sheet(project_copy)
    passes = project_copy / "annotations/passes"
    (project_copy / "annotations/gold-new.jsonl").write_bytes((passes / "annotator-a.jsonl").read_bytes())
    before = (project_copy / out).read_bytes()
    assert refused(run(*command), out)
    assert (project_copy / out).read_bytes() == before
    forced = run(*command, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (project_copy / out).read_bytes() != before
    again = run(*command)  # the same content again: nothing replaced, nothing refused
    assert again.exit_code == 0 and "(unchanged)" in again.stdout


def test_adjudicate_keeps_an_edited_gold_file(run, project_copy):
    gold = project_copy / "annotations/gold.jsonl"
    edited = gold.read_text().replace('"label": "oppose"', '"label": "neutral"', 1)
    gold.write_text(edited)
    assert refused(run("annotations", "adjudicate"), "annotations/gold.jsonl") and gold.read_text() == edited


# ----------------------------------------------------------------------------- 2. line-safe JSONL
def test_corpus_add_of_a_file_named_with_a_line_separator_keeps_the_index_whole(tiny_seeds, tmp_path):
    odd = tmp_path / "nordic\u2028news.txt"
    odd.write_bytes(ARTICLE.read_bytes())
    second = tmp_path / "second.txt"
    second.write_text("Norway said it would send troops to Ukraine.\n")
    for path in (odd, second):
        out = stance("corpus", "add", path.name, cwd=tmp_path)
        assert out.returncode == 0 and "added seeds/" in out.stdout, out.stderr
    text = (tiny_seeds / "articles.jsonl").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 3 and len(text.splitlines()) == 2
    entries = [json.loads(line) for line in lines[:2]]
    assert [e["source"] for e in entries] == [odd.name, "second.txt"]
    assert [e["document"][:3] for e in entries] == ["000", "001"]


# ----------------------------------------------------------------------------- 4. limits
def test_corpus_add_limits_are_one_line_errors(tiny_seeds, tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would never end
    out = stance("corpus", "add", "pipe.txt", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr == "error: pipe.txt: not a regular file (a text article is expected)\n"
    out = stance("corpus", "add", str(ARTICLE), "--max-bytes", "100", cwd=tmp_path)
    size = ARTICLE.stat().st_size
    assert out.returncode == 2 and out.stderr.startswith(f"error: {ARTICLE}: {size} bytes, more than 100 bytes")
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr
    env = {**os.environ, "STANCE_MAX_ARTICLE_BYTES": "100"}
    proc = subprocess.run([STANCE, "corpus", "add", str(ARTICLE)], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2 and "more than 100 bytes" in proc.stderr
    assert sorted(p.name for p in tiny_seeds.iterdir() if not p.name.startswith(".")) == \
        ["a_first.txt", "b_second.txt", "c_third.txt"]
    out = stance("corpus", "add", str(ARTICLE), "--max-bytes", str(size), cwd=tmp_path)
    assert out.returncode == 0, out.stderr


# ----------------------------------------------------------------------------- 5. terminal tables
def render(table) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=300, color_system=None).print(table)
    return buffer.getvalue()


def test_tables_show_control_characters_escaped_and_markup_as_written():
    from stance.serving.output import predictions_table, summary_table

    row = {"id": "1\x1b[2J", "text": EVIL, "label": "oppose", "confidence": 0.5,
           **{f"p_{label}": 1 / 3 for label in LABELS}}
    summary = {"holders": [{"holder": EVIL, "statements": 1, **{label: 0 for label in LABELS}}], "statements": 1,
               "labels": {label: 0 for label in LABELS}}
    for table in (predictions_table([row], width=200), summary_table(summary)):
        shown = render(table)
        assert not any(ch in shown for ch in "\x1b\x07\u202e")
        assert "\\x1b[31mred\\x1b[0m\\x1b]0;pwned\\x07 [bold]x[/bold] \\u202etxt.exe" in shown
    assert "1\\x1b[2J" in render(predictions_table([row]))


def test_corpus_report_escapes_a_holder(run, project_copy):
    gold = project_copy / "annotations/gold.jsonl"
    records = [json.loads(line) for line in gold.read_text().splitlines()]
    records[0]["holder"] = EVIL
    gold.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run("corpus", "report", "--by", "holder")
    assert result.exit_code == 0 and "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "[bold]x[/bold]" in result.stdout and "\\x1b]0;pwned\\x07" in result.stdout


# ----------------------------------------------------------------------------- 6. suggest
@pytest.fixture
def loop(tmp_path, monkeypatch, registered):
    """A project folder with six pending statements (one with escapes and markup), suggested from
    by the real registered test model."""
    monkeypatch.chdir(tmp_path)
    texts = [f"Statement number {k} about troops." for k in range(5)] + [EVIL]
    pending = [{"id": f"009_x:{k}", "document": "009_x", "start": 0, "end": 1, "text": t,
                "target": "foreign troops deployed in Ukraine"} for k, t in enumerate(texts)]
    (tmp_path / "annotations/pending").mkdir(parents=True)
    (tmp_path / "annotations/pending/009_x.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pending))
    runner = CliRunner()
    model = ["-m", registered["model"], "--tracking-uri", registered["uri"]]
    return pending, lambda *args: runner.invoke(main, ["suggest", *model, *args], catch_exceptions=False)


def _label(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({**r, "label": "neutral"}) + "\n" for r in records))


def test_suggest_never_offers_a_statement_of_a_pass_or_a_gold_file(loop, tmp_path):
    pending, suggest = loop
    _label(tmp_path / "annotations/passes/annotator-z.jsonl", [pending[0]])  # a pass not yet adjudicated
    _label(tmp_path / "annotations/gold.jsonl", [pending[1]])
    _label(tmp_path / "annotations/written/gold.jsonl", [pending[2]])
    _label(tmp_path / "mine.jsonl", [pending[3]])
    result = suggest("-n", "10", "--exclude", "mine.jsonl")
    assert result.exit_code == 0, result.stderr
    batch = [json.loads(line) for line in (tmp_path / "annotations/batches/next.jsonl").read_text().splitlines()]
    assert sorted(b["id"] for b in batch) == ["009_x:4", "009_x:5"]
    assert "next 2 of 2 pending statements" in result.stdout
    assert "\x1b" not in result.stdout and "[bold]x[/bold]" in result.stdout and "\\x1b[31mred" in result.stdout

    _label(tmp_path / "annotations/passes/annotator-y.jsonl", pending[3:])
    result = suggest("--force")
    assert result.exit_code == 2 and result.stderr == "error: every pending statement is already labelled\n"


def test_suggest_errors_on_a_labelled_file_it_cannot_read(loop, tmp_path):
    pending, suggest = loop
    (tmp_path / "annotations/passes").mkdir(parents=True)
    (tmp_path / "annotations/passes/broken.jsonl").write_text('{"id": "009_x:0"}\n{"id": \n')
    result = suggest()
    assert result.exit_code == 2 and result.stderr.startswith("error: annotations/passes/broken.jsonl:2: invalid JSON")
    (tmp_path / "annotations/passes/broken.jsonl").unlink()
    result = suggest("--exclude", "missing.jsonl")
    assert result.exit_code == 2 and result.stderr == "error: missing.jsonl: JSONL file not found\n"


def test_suggest_does_not_replace_a_batch_being_labelled(loop, tmp_path):
    pending, suggest = loop
    assert suggest("-n", "2").exit_code == 0
    batch = tmp_path / "annotations/batches/next.jsonl"
    first = batch.read_text()
    again = suggest("-n", "2")
    assert again.exit_code == 0 and "(unchanged)" in again.stdout and batch.read_text() == first
    assert refused(suggest("-n", "3"), "annotations/batches/next.jsonl") and batch.read_text() == first
    assert suggest("-n", "3", "--force").exit_code == 0 and len(batch.read_text().splitlines()) == 3
