"""``stance explain`` on the registered test model: the table, JSONL, files, an article, and
one-line errors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from stance.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"
STATEMENTS = ["Moscow rejected French troops, calling the plan a threat!", "Britain is ready to send troops."]


@pytest.fixture
def stance(registered):
    runner = CliRunner()
    model = ["-m", registered["model"], "--tracking-uri", registered["uri"]]
    return lambda *args: runner.invoke(main, ["explain", *model, *args], catch_exceptions=False)


def test_the_table_shows_label_probability_and_signed_words(stance):
    result = stance(*STATEMENTS, "--top", "3")
    assert result.exit_code == 0, result.output
    assert "top words" in result.stdout and "decision score" in result.stdout
    assert any(label in result.stdout for label in LABELS)
    assert "troops +" in result.stdout or "troops -" in result.stdout


def test_jsonl_on_stdout_and_from_a_file(stance, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,text\nx1,"Moscow rejected French troops, calling the plan a threat!"\nx2,Talks resumed.\n')
    result = stance("-i", str(source), "-f", "jsonl", "--top", "2", "--method", "occlusion")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["x1", "x2"]
    for r in records:
        assert r["label"] in LABELS and r["confidence"] == pytest.approx(r[f"p_{r['label']}"])
        assert r["method"] == "occlusion" and len(r["words"]) == 2
        assert all(r["text"][w["start"] : w["end"]] == w["token"] for w in r["words"])


def test_files_are_written_jsonl_and_html(stance, tmp_path):
    out, page = tmp_path / "why.jsonl", tmp_path / "why.html"
    result = stance(*STATEMENTS, "-o", str(out), "--html", str(page), "--top", "0")
    assert result.exit_code == 0, result.output
    assert "2 explanations -> " in result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in records] == STATEMENTS
    assert len(records[1]["words"]) == 6  # --top 0: every word
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('class="statement"') == 2
    assert "Moscow" in html and "<script" not in html
    again = stance(*STATEMENTS, "-o", str(out))
    assert again.exit_code == 2 and "exists: add --force" in again.stderr
    assert stance(*STATEMENTS, "-o", str(out), "--force").exit_code == 0


def test_an_article_is_split_as_predict_splits_it(stance):
    result = stance("--article", str(ARTICLE), "-f", "jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    text = ARTICLE.read_text()
    assert len(records) == 6
    assert all(text[r["article_start"] : r["article_end"]] == r["text"] for r in records)


@pytest.mark.parametrize("args, message", [
    (["-i", "missing.txt"], "missing.txt: input file not found"),
    (["--article", "missing.txt"], "missing.txt: article file not found"),
    (["-o", "out.csv", "A statement."], "out.csv: must end in .jsonl or .ndjson"),
    (["--html", "out.txt", "A statement."], "out.txt: must end in .html or .htm"),
    (["A statement.", "-i", "x.txt"], "give statements as arguments, with --input or with --article: one of them"),
])
def test_mistakes_are_one_line(stance, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = stance(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
