"""Classifying new statements: input forms, bad input, the Python call, the registry, the CLI."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stance.errors import StanceError
from stance.labels import LABELS
from stance.serving.predict import predict
from stance.serving.rows import read_statements
from stance.serving.output import write_predictions
from stance.tracking.registry import best_run, load_model, register, registered_models

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))
COLUMNS = ["id", "text", "target", "label", "confidence", *(f"p_{label}" for label in LABELS)]


# ----------------------------------------------------------------------------- reading input
def test_arguments_with_blanks_skipped_and_counted():
    given = read_statements(["Troops out.", "  ", "", "Send a force."], target="t")
    assert given.blank == 2
    assert given.frame["text"].tolist() == ["Troops out.", "Send a force."]
    assert given.frame["id"].tolist() == ["1", "4"] and set(given.frame["target"]) == {"t"}


def test_plain_csv_jsonl_and_stdin_inputs(tmp_path):
    (tmp_path / "a.txt").write_text("First one.\n\nSecond one.\n")
    (tmp_path / "b.csv").write_text('id,text,target\nx1,"A, quoted one",troops\nx2,Plain,\n')
    (tmp_path / "c.jsonl").write_text('{"text": "J one", "id": 7}\n\n{"text": "J two", "target": "nuclear"}\n')
    assert read_statements(path=tmp_path / "a.txt").frame["text"].tolist() == ["First one.", "Second one."]
    csv_frame = read_statements(path=tmp_path / "b.csv", target="default").frame
    assert csv_frame.to_dict("records") == [{"id": "x1", "text": "A, quoted one", "target": "troops"},
                                            {"id": "x2", "text": "Plain", "target": "default"}]
    jsonl = read_statements(path=tmp_path / "c.jsonl")
    assert jsonl.frame["id"].tolist() == ["7", "3"] and jsonl.blank == 1
    assert pd.isna(jsonl.frame["target"][0]) and jsonl.frame["target"][1] == "nuclear"
    stdin = read_statements(data="From stdin.\n\n".encode(), name="<stdin>")
    assert stdin.frame["text"].tolist() == ["From stdin."] and stdin.blank == 1


@pytest.mark.parametrize("name, content, message", [
    ("latin.txt", "ok\ncaf\xe9\n".encode("latin-1"), r"latin\.txt:2: not valid UTF-8"),
    ("nocol.csv", b"body\nx\n", r"nocol\.csv: missing column 'text' \(columns: body\)"),
    ("blank.txt", b"\n  \n", r"blank\.txt: no statements to classify \(2 blank skipped\)"),
    ("bad.jsonl", b'{"text": "ok"}\n{"body": 1}\n', r"bad\.jsonl:2: no 'text' field"),
])
def test_bad_input_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(StanceError, match=message):
        read_statements(path=tmp_path / name)


# ----------------------------------------------------------------------------- the Python call
def test_predict_from_python(registered):
    table = predict(["Moscow called any European deployment unacceptable.", "Talks continued in Riyadh."],
                    model_uri=registered["model"], tracking_uri=registered["uri"], progress=True)
    assert list(table.columns) == COLUMNS
    assert set(table["label"]) <= set(LABELS)
    probabilities = table[[f"p_{label}" for label in LABELS]]
    assert probabilities.sum(axis=1).round(6).eq(1).all()
    assert (table["confidence"] == probabilities.max(axis=1)).all()
    model = load_model(registered["model"], registered["uri"])
    direct = model.predict(pd.DataFrame({"text": table["text"], "target": [None, None]}))
    assert direct["label"].tolist() == table["label"].tolist()


def test_write_predictions_atomically(tmp_path, registered):
    table = predict(["A statement."], model_uri=registered["model"], tracking_uri=registered["uri"])
    write_predictions(table, tmp_path / "out.jsonl")
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert list(row) == COLUMNS
    assert write_predictions(table, fmt="csv").splitlines()[0] == ",".join(COLUMNS)
    with pytest.raises(StanceError, match="must end in .csv or .jsonl"):
        write_predictions(table, tmp_path / "out.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temporary file left


# ----------------------------------------------------------------------------- registry
def test_register_moves_the_alias(registered):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(registered["uri"], registry_uri=registered["uri"])
    assert client.get_model_version_by_alias("stance-test", "champion").run_id == registered["run_id"]
    again = register(registered["uri"], registered["run_id"], "stance-test", "candidate")
    assert int(again.version) == int(registered["version"].version) + 1
    assert str(client.get_model_version_by_alias("stance-test", "candidate").version) == again.version
    assert "stance-test@champion" in registered_models(registered["uri"])


def test_best_run_by_metric(registered):
    cfg = registered["cfg"]
    best = best_run(registered["uri"], cfg.experiment_name, "macro_f1_mean")
    assert best.info.run_id == registered["run_id"]
    # "macro_f1" is the mean over folds, not the last fold's value logged under that name
    assert best_run(registered["uri"], cfg.experiment_name, "macro_f1").info.run_id == registered["run_id"]
    with pytest.raises(StanceError, match="no finished run with metric 'nope'"):
        best_run(registered["uri"], cfg.experiment_name, "nope")


def test_unknown_model_uri_lists_registered_models(registered):
    with pytest.raises(StanceError, match=r"cannot load model 'models:/nope@champion'.*models:/stance-test@champion"):
        load_model("models:/nope@champion", registered["uri"])


# ----------------------------------------------------------------------------- the command
def stance(*args, stdin=None, registered=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = registered["uri"]
    return subprocess.run([STANCE, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)


def test_cli_arguments_print_a_table(registered):
    proc = stance("predict", "-m", registered["model"], "Moscow will never accept NATO soldiers in Ukraine.",
                  registered=registered)
    assert proc.returncode == 0, proc.stderr
    assert any(label in proc.stdout for label in LABELS) and "confidence" in proc.stdout


def test_cli_file_stdin_and_output(registered, tmp_path):
    (tmp_path / "in.csv").write_text("text,target\nWe back a force,troops\n,\nNo troops here,troops\n")
    proc = stance("predict", "-m", registered["model"], "-i", str(tmp_path / "in.csv"), "-o",
                  str(tmp_path / "out.csv"), registered=registered)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 blank statement(s)" in proc.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == COLUMNS and out["text"].tolist() == ["We back a force", "No troops here"]
    piped = stance("predict", "-m", registered["model"], "-f", "jsonl", stdin="One.\n\nTwo.\n", registered=registered)
    assert piped.returncode == 0, piped.stderr
    assert [json.loads(line)["text"] for line in piped.stdout.splitlines()] == ["One.", "Two."]


@pytest.mark.parametrize("args, stdin, message", [
    (["-i", "missing.txt"], None, r"error: missing\.txt: input file not found"),
    ([], "\n\n", r"error: <stdin>: no statements to classify \(2 blank skipped\)"),
    (["-m", "models:/nope@champion", "x"], None, r"registered models: .*models:/stance-test@champion"),
])
def test_cli_bad_input_exits_2_with_one_line(registered, tmp_path, args, stdin, message):
    model = [] if "-m" in args else ["-m", registered["model"]]
    proc = stance("predict", *model, *args, stdin=stdin, registered=registered, cwd=tmp_path)
    assert proc.returncode == 2
    assert re.search(message, proc.stderr) and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_cli_register_by_experiment(registered):
    proc = stance("register", "--experiment", registered["cfg"].experiment_name, "--by", "macro_f1",
                  "--name", "stance-cli", registered=registered)
    assert proc.returncode == 0, proc.stderr
    assert "best run by macro_f1_mean: tfidf_logreg" in proc.stdout
    assert "registered models:/stance-cli@champion = version 1" in proc.stdout
    listed = stance("models", registered=registered)
    assert "models:/stance-cli@champion" in listed.stdout.splitlines()


# ----------------------------------------------------------------------------- truncation
@pytest.mark.slow
def test_over_long_statements_are_truncated_with_a_warning(tiny_corpus, tmp_path, caplog):
    import mlflow

    from stance.experiment.engine import as_xy
    from stance.data import load_corpus
    from stance.models import FineTuneClassifier
    from stance.tracking.tracker import Tracker

    X, y = as_xy(load_corpus(tiny_corpus)["train"])
    estimator = FineTuneClassifier(max_steps=1, batch_size=4, max_length=16).fit(X, y)
    tracker = Tracker(f"sqlite:///{tmp_path}/t.db", "truncation", str(tmp_path / "a"))
    with tracker.run("long"):
        uri = tracker.log_model(estimator, X.head(2))
    long_text = "Troops " * 40
    with caplog.at_level("WARNING", logger="stance.serving.predict"):
        table = predict(["Short.", long_text], model_uri=uri, tracking_uri=tracker.uri)
    assert "1 statement(s) longer than the model's limit of 16 tokens were truncated (ids: 2)" in caplog.text
    assert table["label"].notna().all()
    mlflow.set_tracking_uri(None)


def test_best_by_macro_f1_means_the_fold_mean_not_the_last_fold(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/m.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("ranking", artifact_location=(tmp_path / "a").as_uri())
    runs = {}
    for name, mean, last in (("steady", 0.6, 0.1), ("lucky-last-fold", 0.4, 0.9)):
        run = client.create_run(experiment, run_name=name)
        client.log_metric(run.info.run_id, "macro_f1_mean", mean)
        client.log_metric(run.info.run_id, "macro_f1", last, step=3)
        client.set_terminated(run.info.run_id, "FINISHED")
        runs[name] = run.info.run_id
    assert best_run(uri, "ranking", "macro_f1").info.run_id == runs["steady"]
    assert best_run(uri, "ranking", "macro_f1_mean").info.run_id == runs["steady"]


def test_output_is_not_replaced_without_force(registered, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    proc = stance("predict", "-m", registered["model"], "-o", str(out), "A statement.", registered=registered)
    assert proc.returncode == 2 and "the output file exists: add --force to replace it" in proc.stderr
    assert out.read_text() == "precious\n"
    proc = stance("predict", "-m", registered["model"], "-o", str(out), "--force", "A statement.",
                  registered=registered)
    assert proc.returncode == 0 and out.read_text().startswith("id,text,target,label")


def test_a_mistyped_store_is_reported_and_never_created(tmp_path):
    missing = tmp_path / "typo" / "mlflow.db"
    for args in (["predict", "--tracking-uri", f"sqlite:///{missing}", "x"],
                 ["models", "--tracking-uri", f"sqlite:///{missing}"]):
        proc = subprocess.run([STANCE, *args], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 2 and f"no MLflow store at {missing}" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "typo").exists()


# ----------------------------------------------------------------------------- an article's holders and metadata
ARTICLE = Path(__file__).resolve().parents[1] / "fixtures/new_article.txt"


def test_article_rows_carry_holders_and_the_corpus_index_metadata(registered, tiny_seeds, tmp_path):
    from stance.annotation.articles import add_article
    from stance.serving.output import ARTICLE_COLUMNS
    from stance.serving.predict import classify_article

    added = add_article(ARTICLE, tiny_seeds, tmp_path / "pending", url="https://example.org/nordic",
                        date="2025-03-04")
    rows, summary = classify_article(ARTICLE, registered["model"], registered["uri"], articles_dir=tiny_seeds)
    pending = [json.loads(line) for line in added.pending.read_text().splitlines()]
    assert [r["id"] for r in rows] == [p["id"] for p in pending]  # the corpus's statement ids
    assert {(r["document"], r["date"], r["url"]) for r in rows} == {(added.document, "2025-03-04",
                                                                      "https://example.org/nordic")}
    holders = {r["text"][:20]: r["holder"] for r in rows}
    assert holders["Sweden said on Tuesd"] == "Sweden" and holders['"We will not leave U'] == "Ulf Kristersson"
    assert holders["Finland has not deci"] == "Finnish defence ministry" and holders["The Kremlin warned t"] == "Kremlin"
    assert holders["Talks on a ceasefire"] == "author" and [r["holders"] for r in rows][-1] == ""
    by_holder = {h["holder"]: h["statements"] for h in summary["holders"]}
    assert sum(by_holder.values()) == len(rows) and by_holder["Sweden"] == 1 and by_holder["author"] >= 1
    assert set(ARTICLE_COLUMNS) <= set(rows[0]) and summary["url"] == "https://example.org/nordic"

    # an article not in the corpus: empty, or given
    rows, _ = classify_article(ARTICLE, registered["model"], registered["uri"], articles_dir=tmp_path / "none",
                               date="2025-04-01")
    assert {(r["document"], r["date"], r["url"]) for r in rows} == {("", "2025-04-01", "")}
    with pytest.raises(StanceError, match=r"--url 'ftp://x' is not an http\(s\) URL"):
        classify_article(ARTICLE, registered["model"], registered["uri"], url="ftp://x")


@pytest.mark.slow
def test_cli_article_columns_from_the_index_and_options(registered, tiny_seeds, tmp_path):
    import csv

    added = stance("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(tmp_path / "p"),
                   "--url", "https://example.org/nordic", "--date", "2025-03-04", registered=registered)
    assert added.returncode == 0, added.stderr
    out = stance("predict", "--article", str(ARTICLE), "--articles", str(tiny_seeds), "-m", registered["model"],
                 "-o", str(tmp_path / "a.csv"), registered=registered)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert rows and {(r["date"], r["url"]) for r in rows} == {("2025-03-04", "https://example.org/nordic")}
    assert rows[0]["document"].startswith("000_") and rows[1]["holder"] == "Sweden" and "Sweden" in out.stderr
    given = stance("predict", "--article", str(ARTICLE), "--articles", str(tmp_path / "none"), "-m",
                   registered["model"], "--date", "2025-04-01", "--url", "https://example.org/x", "-f", "jsonl",
                   registered=registered)
    assert given.returncode == 0, given.stderr
    assert {(json.loads(line)["date"], json.loads(line)["url"], json.loads(line)["document"])
            for line in given.stdout.splitlines()} == {("2025-04-01", "https://example.org/x", "")}
    bad = stance("predict", "-m", registered["model"], "--date", "2025-04-01", "A statement.", registered=registered)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --date and --url go with --article"
    bad = stance("predict", "--article", str(ARTICLE), "-m", registered["model"], "--date", "April",
                 registered=registered)
    assert bad.returncode == 2 and "--date 'April' is not a date of the form YYYY-MM-DD" in bad.stderr
