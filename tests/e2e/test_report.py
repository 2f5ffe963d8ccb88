"""`stance report` on predictions made by a real `stance predict -i` (the test model), with the
input's date, holder and url columns passed through: files, groups, figures, MLflow, errors."""

import csv
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from stance.errors import StanceError
from stance.labels import LABELS
from stance.serving.output import COLUMNS
from stance.serving.report_files import build_report

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))
PNG = b"\x89PNG\r\n\x1a\n"

#: (date, holder, url, text): made-up statements over three ISO weeks across a year boundary.
STATEMENTS = [
    ("2024-12-27", "Emmanuel Macron", "https://www.lemonde.fr/a1", "France is ready to send soldiers to Ukraine."),
    ("2024-12-27", "Emmanuel Macron", "https://www.lemonde.fr/a1", "A European force could secure a ceasefire."),
    ("2024-12-28", "Sergei Lavrov", "https://tass.com/b1", "Moscow rejects any foreign troops in Ukraine."),
    ("2024-12-28", "Sergei Lavrov", "https://tass.com/b1", "Western soldiers there would be a legitimate target."),
    ("2024-12-30", "Keir Starmer", "https://www.bbc.co.uk/c1", "Britain will put boots on the ground if needed."),
    ("2024-12-30", "Keir Starmer", "https://www.bbc.co.uk/c1", "The talks in London covered many topics."),
    ("2025-01-02", "Sergei Lavrov", "https://tass.com/b2", "Russia will never accept NATO forces in Ukraine."),
    ("2025-01-02", "Emmanuel Macron", "https://www.lemonde.fr/a2", "We back a reassurance force after a deal."),
    ("2025-01-03", "Keir Starmer", "https://www.bbc.co.uk/c2", "The coalition of the willing met again."),
    ("2025-01-05", "Sergei Lavrov", "https://tass.com/b2", "Peacekeepers from Europe are unacceptable."),
    ("2025-01-08", "Emmanuel Macron", "https://www.lemonde.fr/a3", "Troops would deter another invasion."),
    ("2025-01-08", "Keir Starmer", "https://www.bbc.co.uk/c3", "Britain supports deploying a force."),
    ("2025-01-09", "Sergei Lavrov", "https://tass.com/b3", "Foreign contingents would escalate the war."),
    ("2025-01-10", "Keir Starmer", "https://www.bbc.co.uk/c3", "Ministers discussed the budget."),
]


@pytest.fixture(scope="module")
def predictions(registered, tmp_path_factory):
    """predictions.csv from the real command, on a CSV with date, holder and url columns."""
    home = tmp_path_factory.mktemp("report")
    with (home / "statements.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "date", "holder", "text", "url"])
        writer.writerows([f"s{k}", date, holder, text, url] for k, (date, holder, url, text) in enumerate(STATEMENTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = registered["uri"]
    proc = subprocess.run([STANCE, "predict", "-m", registered["model"], "-i", "statements.csv", "-o",
                           "predictions.csv"], cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return home / "predictions.csv"


def rows_of(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def report(*args):
    return CliRunner().invoke(main, ["report", *map(str, args)], catch_exceptions=False)


def test_predict_passes_the_input_columns_through(predictions):
    rows = rows_of(predictions)
    assert list(rows[0]) == [*COLUMNS, "date", "holder", "url"]
    assert [(r["date"], r["holder"], r["url"], r["text"]) for r in rows] == STATEMENTS
    assert {r["label"] for r in rows} <= set(LABELS)


def test_report_files_groups_and_figures(predictions, tmp_path):
    result = report(predictions, "--out", tmp_path / "rep", "--html")
    assert result.exit_code == 0, result.output
    assert "14 statements from 1 file(s): 3 holders, 3 outlets, 9 articles, 3 weeks" in result.output
    folder = tmp_path / "rep"
    names = {"report.md", "report.html", "holders.png", "stance_over_time.png",
             "by_holder.csv", "by_outlet.csv", "by_article.csv", "by_week.csv"}
    assert {p.name for p in folder.iterdir()} == names  # and no temporary file left
    for figure in ("holders.png", "stance_over_time.png"):
        data = (folder / figure).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    predicted = rows_of(predictions)
    holders = {r["holder"]: r for r in rows_of(folder / "by_holder.csv")}
    assert set(holders) == {"Emmanuel Macron", "Sergei Lavrov", "Keir Starmer"}
    for holder, row in holders.items():  # counts and shares are those of the predictions
        labels = Counter(r["label"] for r in predicted if r["holder"] == holder)
        assert int(row["n"]) == sum(labels.values())
        for label in LABELS:
            assert int(row[f"n_{label}"]) == labels[label]
            assert float(row[f"share_{label}_low"]) <= float(row[f"share_{label}"]) <= float(row[f"share_{label}_high"])
        net = (labels["support"] - labels["oppose"]) / sum(labels.values())
        assert float(row["net"]) == pytest.approx(net, abs=1e-4)
    weeks = rows_of(folder / "by_week.csv")
    assert [(w["week"], int(w["n"])) for w in weeks] == [("2024-W52", 4), ("2025-W01", 6), ("2025-W02", 4)]
    assert {o["outlet"]: int(o["n"]) for o in rows_of(folder / "by_outlet.csv")} == {
        "lemonde.fr": 4, "tass.com": 5, "bbc.co.uk": 5}
    assert sum(int(a["n"]) for a in rows_of(folder / "by_article.csv")) == 14
    markdown = (folder / "report.md").read_text()
    for heading in ("## By holder", "## By outlet", "## By article", "## By ISO week", "## What the intervals mean"):
        assert heading in markdown
    assert "Dates from 2024-12-27 to 2025-01-10" in markdown and "(holders.png)" in markdown
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and 'src="holders.png"' not in page


def test_a_narrower_report_removes_the_files_of_the_wider_one(predictions, tmp_path):
    assert report(predictions, "--out", tmp_path, "--html").exit_code == 0
    (tmp_path / "notes.txt").write_text("mine")
    result = report(predictions, "--out", tmp_path, "--by", "week,outlet", "--min-n", "5")
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {"report.md", "by_week.csv", "by_outlet.csv",
                                                    "stance_over_time.png", "notes.txt"}
    assert [w["week"] for w in rows_of(tmp_path / "by_week.csv")] == ["2025-W01"]
    assert "2 group(s) with fewer than 5 statements (8 statements) are left out" in (tmp_path / "report.md").read_text()


def test_log_makes_an_mlflow_run_with_the_files(predictions, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/reports.db"
    result = report(predictions, "--out", tmp_path / "rep", "--log", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("report")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_id in result.output and run.info.status == "FINISHED"
    assert run.data.tags["stance.role"] == "report"
    assert run.data.metrics["statements"] == 14 and run.data.metrics["groups_week"] == 3
    assert run.data.params["views"] == "holder,outlet,article,week"
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert logged == {p.name for p in (tmp_path / "rep").iterdir()}


def bad_files(folder, predictions):
    rows = predictions.read_text().splitlines()
    (folder / "bad_date.csv").write_text("\n".join([rows[0], rows[1], rows[2].replace("2024-12-27", "27/12/2024")]))
    (folder / "bad_label.csv").write_text("\n".join([rows[0], rows[1].replace(",support,", ",maybe,")
                                                     .replace(",oppose,", ",maybe,").replace(",neutral,", ",maybe,")]))
    (folder / "no_label.csv").write_text("id,text\n1,x\n")
    (folder / "no_date.jsonl").write_text('{"label": "support", "holder": "A"}\n')


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], r"^error: missing\.csv: predictions file not found$"),
    (["no_label.csv"], r"^error: no_label\.csv: no 'label' column \(columns: id, text\): give the output of stance predict$"),
    (["bad_date.csv"], r"^error: bad_date\.csv:3: unparsable date '27/12/2024' \(expected YYYY-MM-DD\)$"),
    (["bad_label.csv"], r"^error: bad_label\.csv:2: unknown label 'maybe' \(expected support, oppose, neutral\)$"),
    (["no_date.jsonl", "--by", "holder,week"], r"^error: --by week needs a 'date' column \(YYYY-MM-DD\): add one"),
    (["no_date.jsonl", "--by", "colour"], r"^error: unknown grouping 'colour' for --by"),
])
def test_bad_input_is_one_line_and_exit_2(predictions, tmp_path, args, message):
    bad_files(tmp_path, predictions)
    proc = subprocess.run([STANCE, "report", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and __import__("re").search(message, proc.stderr.strip())
    assert not (tmp_path / "report").exists()


def test_bad_input_from_python(predictions, tmp_path):
    bad_files(tmp_path, predictions)
    with pytest.raises(StanceError, match=r"bad_date\.csv:3: unparsable date '27/12/2024'"):
        build_report([predictions, tmp_path / "bad_date.csv"], tmp_path / "out")
    with pytest.raises(StanceError, match=r"--by outlet needs a 'url' \(or 'outlet'\) column"):
        build_report([tmp_path / "no_date.jsonl"], tmp_path / "out", by=["outlet"])
    assert not (tmp_path / "out").exists()


def test_article_predictions_with_several_holders_and_documents(tmp_path):
    """As `stance predict --article` writes them: a document column, holders joined by ';' (or a JSON list)."""
    import json

    rows = [{"id": "d1-1", "document": "d1", "holders": "Paris; London", "label": "support", "date": ""},
            {"id": "d1-2", "document": "d1", "holders": "", "label": "neutral", "date": ""},
            {"id": "d2-1", "document": "d2", "holders": ["Moscow"], "label": "oppose", "date": "2025-02-03"}]
    (tmp_path / "article.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    made = build_report([tmp_path / "article.jsonl"], tmp_path / "out", n_resamples=200)
    assert list(made.views) == ["holder", "article", "week"]  # no url or outlet column: no outlet view
    assert {g.group: g.n for g in made.views["holder"].groups} == {"Paris": 1, "London": 1, "Moscow": 1}
    assert made.views["holder"].without == 1 and made.views["week"].without == 2
    assert {g.group: g.n for g in made.views["article"].groups} == {"d1": 2, "d2": 1}
    assert made.metrics["statements"] == 3 and made.metrics["groups_holder"] == 3
