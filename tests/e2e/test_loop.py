"""The annotation loop: adding an article, predicting a whole article, the Label Studio files
and suggesting what to label next (the live Label Studio round-trip is in test_labelstudio.py)."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from stance.annotation.active import labels_saved, select, simulate, summarise, uncertainty
from stance.annotation.articles import add_article
from stance.annotation.holders import holder
from stance.annotation.labelstudio import import_export, labelling_config, tasks
from stance.annotation.passes import validate_file
from stance.errors import StanceError
from stance.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"
STANCE = [sys.executable, "-m", "stance.cli.commands"]


def run(*args, cwd=None):
    return subprocess.run([*STANCE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- corpus add
def test_add_article_stores_raw_bytes_and_a_pending_batch_with_exact_spans(tiny_seeds, tmp_path):
    pending = tmp_path / "pending"
    added = add_article(ARTICLE, tiny_seeds, pending, url="https://example.org/nordic", date="2025-03-04")
    assert added.new and added.article.read_bytes() == ARTICLE.read_bytes()
    assert added.document.startswith("000_") and added.article.name == f"{added.document}.txt"
    records = [json.loads(line) for line in added.pending.read_text().splitlines()]
    text = ARTICLE.read_text()
    assert len(records) == added.statements == 6
    assert all(text[r["start"] : r["end"]] == r["text"] and r["document"] == added.document for r in records)
    assert not any("Leave A Comment" in r["text"] or "By A. Tester" in r["text"] for r in records)
    [entry] = [json.loads(line) for line in (tiny_seeds / "articles.jsonl").read_text().splitlines()]
    assert entry["url"] == "https://example.org/nordic" and entry["date"] == "2025-03-04"

    before = snapshot(tmp_path)
    again = add_article(ARTICLE, tiny_seeds, pending)
    assert not again.new and again.document == added.document and snapshot(tmp_path) == before


@pytest.mark.parametrize("name, content, message", [
    ("picture.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"picture\.txt: a binary file, not a text article"),
    ("empty.txt", b"  \n\n", r"empty\.txt: the article is empty"),
    ("latin.txt", "First line.\nCaf\xe9 society.\n".encode("latin-1"), r"latin\.txt:2: not valid UTF-8"),
])
def test_bad_article_files_are_one_clear_error_and_change_nothing(tiny_seeds, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    before = snapshot(tiny_seeds)
    with pytest.raises(StanceError, match=message):
        add_article(tmp_path / name, tiny_seeds, tmp_path / "pending")
    assert snapshot(tiny_seeds) == before and not (tmp_path / "pending").exists()


def test_corpus_add_command_errors_and_no_op(tiny_seeds, tmp_path):
    out = run("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(tmp_path / "p"),
              "--date", "4 March 2025")
    assert out.returncode == 2 and out.stderr.strip() == "error: --date '4 March 2025' is not a date of the form YYYY-MM-DD"
    out = run("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(tmp_path / "p"),
              "--url", "https://example.org/a", "--date", "2025-03-04")
    assert out.returncode == 0 and "6 statements" in out.stdout
    out = run("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(tmp_path / "p"))
    assert out.returncode == 0 and "already in the corpus" in out.stdout and "nothing done" in out.stdout


def test_the_holder_of_a_statement_is_who_it_reports_speaking_or_the_author():
    assert holder("Sweden said on Tuesday it was ready.") == "Sweden"
    assert holder('"Never," said Dmitry Peskov.') == "Dmitry Peskov"
    assert holder("Troops are a threat, according to the Kremlin.") == "Kremlin"
    assert holder("Troops would be a mistake.") == "author"


# ----------------------------------------------------------------------------- predict --article
@pytest.mark.slow
def test_predict_article_gives_spans_labels_and_a_summary(registered, tmp_path):
    common = ["predict", "--article", str(ARTICLE), "-m", registered["model"], "--tracking-uri", registered["uri"]]
    out = run(*common, "-o", str(tmp_path / "article.csv"))
    assert out.returncode == 0, out.stderr
    assert "(whole article)" in out.stderr and "Sweden" in out.stderr
    import csv

    rows = list(csv.DictReader((tmp_path / "article.csv").open()))
    text = ARTICLE.read_text()
    assert len(rows) == 6 and all(text[int(r["start"]) : int(r["end"])] == r["text"] for r in rows)
    assert all(r["label"] in LABELS for r in rows) and rows[1]["holders"] == "Sweden"
    lines = run(*common, "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["label"] for line in lines] == [r["label"] for r in rows]
    bad = run("predict", "--article", str(tmp_path / "missing.txt"))
    assert bad.returncode == 2 and "article file not found" in bad.stderr and "Traceback" not in bad.stderr


# ----------------------------------------------------------------------------- Label Studio files
def test_labelling_config_has_three_choices_with_the_spec_hints():
    root = ET.fromstring(labelling_config("foreign troops deployed in Ukraine"))
    choices = root.find("Choices")
    assert [c.get("value") for c in choices.findall("Choice")] == list(LABELS)
    assert all(len(c.get("hint")) > 40 for c in choices.findall("Choice")) and choices.get("required") == "true"
    assert {t.get("name") for t in root.findall("TextArea")} == {"holder", "rationale"}


def _export(task_list, answers):
    """A Label Studio JSON export: the tasks with one submitted annotation each (or none)."""
    exported = []
    for k, (task, answer) in enumerate(zip(task_list, answers), start=1):
        annotations = [] if answer is None else [{
            "id": 100 + k, "completed_by": 1, "was_cancelled": False, "created_at": "2026-11-26T10:00:00Z",
            "result": [{"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [answer[0]]}},
                       {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": [answer[1]]}}]}]
        exported.append({"id": k, "data": task["data"], "annotations": annotations, "predictions": [7]})
    return exported


def test_tasks_and_a_label_studio_export_round_trip_into_a_valid_pass(tiny_seeds, tmp_path):
    added = add_article(ARTICLE, tiny_seeds, tmp_path / "pending")
    statements = [json.loads(line) for line in added.pending.read_text().splitlines()]
    predicted = [{"label": LABELS[k % 3], "confidence": 0.5 + k / 100} for k in range(len(statements))]
    made = tasks(statements, tiny_seeds, predicted, model_version="models:/m@champion")
    assert made[1]["predictions"][0]["result"][0]["value"]["choices"] == [LABELS[1]]
    assert "<mark><b>" in made[1]["data"]["context"] and made[1]["data"]["start"] == statements[1]["start"]
    answers = [("neutral", "author"), ("support", "Sweden"), ("support", "Ulf Kristersson"), None,
               ("oppose", "Kremlin"), ("neutral", "author")]
    (tmp_path / "export.json").write_text(json.dumps(_export(made, answers)))
    records, unanswered = import_export(tmp_path / "export.json", "tester")
    assert unanswered == 1 and [r["label"] for r in records] == [a[0] for a in answers if a]
    (tmp_path / "pass.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert validate_file(tmp_path / "pass.jsonl", tiny_seeds) == []


@pytest.mark.parametrize("content, message", [
    ("{not json", r"export\.json:1: not a Label Studio JSON export"),
    ('{"tasks": []}', r"expected a list of tasks"),
    ('[{"id": 5, "data": {"text": "x"}}]', r"task 5: no statement data"),
    ('[{"id": 5, "data": {"id": "a", "document": "d", "start": 0, "end": 1, "text": "x"}, '
     '"annotations": [{"result": []}]}]', r"task 5 \(statement a\): no stance choice"),
])
def test_bad_exports_are_one_clear_error(tmp_path, content, message):
    (tmp_path / "export.json").write_text(content)
    with pytest.raises(StanceError, match=message):
        import_export(tmp_path / "export.json", "tester")


# ----------------------------------------------------------------------------- active learning
def test_uncertainty_measures_rank_the_unsure_first():
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert np.argsort(-uncertainty(proba, "margin"))[:2].tolist() in ([2, 3], [3, 2])
    assert np.argmax(uncertainty(proba, "entropy")) == 3 and np.argmin(uncertainty(proba, "entropy")) == 0
    assert select(proba, 2, "least_confident").tolist() == [3, 1]  # 1 - max: 0.67, 0.6, 0.5, 0.1
    assert select(proba, 4, "random", seed=1).tolist() == select(proba, 4, "random", seed=1).tolist()
    with pytest.raises(ValueError, match="unknown strategy"):
        uncertainty(proba, "greedy")


def test_diverse_selection_spreads_over_clusters():
    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal(0, 0.01, (5, 2)), rng.normal(5, 0.01, (15, 2))])
    proba = np.tile([0.5, 0.3, 0.2], (20, 1))
    proba[:5] = [0.34, 0.33, 0.33]  # a tight group of near-copies is the most uncertain
    plain = select(proba, 2, "margin", seed=0)
    diverse = select(proba, 2, "margin", features=features, diverse=True, seed=0)
    assert all(k < 5 for k in plain)
    assert sorted(k < 5 for k in diverse) == [False, True] and diverse[0] < 5  # most uncertain first


def test_simulation_and_labels_saved_on_separable_data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(LABELS), 40)
    features = rng.normal(0, 1, (120, 5)) + np.repeat(np.eye(3, 5) * 3, 40, axis=0)
    groups = np.tile(np.array(["a", "b", "c", "d"]), 30)
    testable = groups != "d"
    rows = simulate(features, y, groups, testable, [("random", False), ("margin", False)], seeds=[0, 1], start=6,
                    step=6, budget=30)
    summary = summarise(rows)
    assert set(summary["strategy"]) == {"random", "margin"} and summary["labels"].max() == 30
    assert (summary["high"] >= summary["mean"]).all() and summary["mean"].between(0, 1).all()
    crafted = summary.assign(mean=np.where(summary["strategy"] == "margin", 1.0, summary["labels"] / 100))
    assert labels_saved(crafted)["margin"] == 30 - 6


@pytest.mark.slow
def test_suggest_writes_the_most_uncertain_pending_statements(registered, tiny_seeds, tmp_path):
    added = add_article(ARTICLE, tiny_seeds, tmp_path / "pending")
    first = json.loads(added.pending.read_text().splitlines()[0])
    (tmp_path / "labelled.jsonl").write_text(json.dumps({**first, "label": "neutral"}) + "\n")
    out = run("suggest", "-n", "3", "--pending", str(tmp_path / "pending"), "--exclude", str(tmp_path / "labelled.jsonl"),
              "-m", registered["model"], "--tracking-uri", registered["uri"], "--out", str(tmp_path / "next.jsonl"))
    assert out.returncode == 0, out.stderr
    batch = [json.loads(line) for line in (tmp_path / "next.jsonl").read_text().splitlines()]
    assert len(batch) == 3 and first["id"] not in {b["id"] for b in batch}
    assert [b["uncertainty"] for b in batch] == sorted((b["uncertainty"] for b in batch), reverse=True)
    from stance.serving.predict import classify

    rest = [json.loads(line) for line in added.pending.read_text().splitlines()[1:]]
    scored = classify([{"id": r["id"], "text": r["text"], "target": r["target"]} for r in rest], registered["model"],
                      registered["uri"])
    margins = {r["id"]: u for r, u in zip(rest, uncertainty(
        np.array([[s[f"p_{label}"] for label in LABELS] for s in scored]), "margin"))}
    assert min(b["uncertainty"] for b in batch) >= sorted(margins.values())[-3] - 1e-4


@pytest.mark.slow
def test_suggest_simulate_writes_the_experiment_page(tiny_corpus, tmp_path):
    out = run("suggest-simulate", "--gold", str(tiny_corpus), "--written", "", "--repeats", "2", "--start", "3",
              "--step", "2", "--budget", "7", "--out", str(tmp_path / "al"))
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "al/README.md").read_text()
    assert "| random |" in page and "| margin |" in page and "labels saved vs random" in page
    assert (tmp_path / "al/curve.png").stat().st_size > 1000
    assert "labels" in (tmp_path / "al/results.csv").read_text().splitlines()[0]
