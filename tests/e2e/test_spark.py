"""Scoring on Spark (``stance predict --spark``, :mod:`stance.serving.spark`): the same predictions as
``stance.serving.predict.classify`` for CSV and Parquet inputs, with the lean model and through
``mlflow.pyfunc.spark_udf``; the CLI and its one-line errors; an output written atomically.

Real Spark on local[2] (one session for the module, ~20 s to start), real MLflow stores.
"""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")

from stance.errors import StanceError  # noqa: E402
from stance.labels import LABELS  # noqa: E402
from stance.serving.predict import classify  # noqa: E402
from stance.serving.spark import score_spark, session  # noqa: E402
from tests_helpers import clean_env  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PROBA = [f"p_{label}" for label in LABELS]
STANCE = str(Path(sys.executable).parent / "stance")


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the whole module (score_spark reuses the running session)."""
    spark = session("local[2]")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def encoder_model(tmp_path_factory):
    """The champion's family (TF-IDF plus the packaged MiniLM encoder, SVM) trained on the tiny
    corpus and registered as stance-spark@champion, as the session fixture ``registered`` does."""
    from conftest import write_tiny_corpus
    from stance.experiment.config import compose
    from stance.experiment.engine import train
    from stance.tracking.registry import register

    home = tmp_path_factory.mktemp("spark-registry")
    uri = f"sqlite:///{home}/mlflow.db"
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        cfg = compose([f"paths.root={ROOT}", f"data.path={write_tiny_corpus(home / 'tiny_gold.jsonl')}",
                       f"tracking.uri={uri}", f"tracking.artifact_root={home}/artifacts", "eval.n_bootstrap=50",
                       "model=tfidf_embed_svm", "model.device=cpu", "backbone=minilm", "external=none"])
        result = train(cfg)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    register(uri, result.run_id, "stance-spark", "champion")
    return {"uri": uri, "model": "models:/stance-spark@champion"}


def statements() -> pd.DataFrame:
    """The project's 100 article statements (text the tiny models never saw), some with their target,
    plus a blank one and one that needs CSV quoting; ids as strings."""
    gold = [json.loads(line) for line in (ROOT / "annotations/gold.jsonl").read_text().splitlines()]
    rows = [{"id": f"s{k}", "text": r["text"], "target": r["target"] if k % 3 else "", "note": "x"}
            for k, r in enumerate(gold)]
    rows.insert(5, {"id": "blank", "text": "   ", "target": "", "note": "x"})
    rows.append({"id": "quoted", "text": 'Paris said: "troops, yes;\nbut later."', "target": "", "note": "x"})
    return pd.DataFrame(rows)


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def expected(frame: pd.DataFrame, model: dict) -> pd.DataFrame:
    rows = [{"id": str(r["id"]), "text": r["text"], "target": r["target"] or None}
            for r in frame.to_dict(orient="records") if r["text"].strip()]
    return pd.DataFrame(classify(rows, model["model"], model["uri"], progress=False))


def assert_same(got: pd.DataFrame, want: pd.DataFrame, atol: float = 1e-6) -> None:
    assert list(got.columns) == ["id", "text", "target", "label", "confidence", *PROBA]
    assert len(got) == len(want)
    assert got["id"].astype(str).tolist() == want["id"].tolist()  # the input's order, too
    assert got["text"].tolist() == want["text"].tolist()
    assert [t if isinstance(t, str) else None for t in got["target"]] == \
        [t if isinstance(t, str) else None for t in want["target"]]
    assert got["label"].tolist() == want["label"].tolist()
    np.testing.assert_allclose(got[[*PROBA, "confidence"]].to_numpy(), want[[*PROBA, "confidence"]].to_numpy(),
                               rtol=0, atol=atol)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


@pytest.mark.parametrize("family, suffix", [("tfidf", ".csv"), ("tfidf", ".parquet"), ("encoder", ".parquet")])
def test_spark_predictions_equal_classify(spark, registered, encoder_model, tmp_path, family, suffix):
    model = registered if family == "tfidf" else encoder_model
    frame = statements()
    source = write_input(frame, tmp_path / f"statements{suffix}")
    result = score_spark(source, tmp_path / "out.parquet", model["model"], model["uri"])
    assert result["engine"] == "lean" and result["rows"] == 101 and result["blank"] == 1
    assert result["partitions"] >= 2 and result["output"] == str(tmp_path / "out.parquet")
    assert_same(pd.read_parquet(tmp_path / "out.parquet"), expected(frame, model))
    assert leftovers(tmp_path) == []


def test_pyfunc_engine_gives_the_same_predictions(spark, registered, tmp_path):
    frame = statements()
    source = write_input(frame, tmp_path / "statements.parquet")
    result = score_spark(source, tmp_path / "out.parquet", registered["model"], registered["uri"], engine="pyfunc",
                         partitions=3)
    assert result["engine"] == "pyfunc" and result["partitions"] == 3
    assert_same(pd.read_parquet(tmp_path / "out.parquet"), expected(frame, registered), atol=1e-4)


def test_force_replaces_an_output_and_ids_keep_their_type(spark, registered, tmp_path):
    frame = statements().assign(id=lambda f: np.arange(len(f)) * 10, text_col=lambda f: f["text"])
    source = write_input(frame.drop(columns=["text", "target"]), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(StanceError, match="the output exists: add --force"):
        score_spark(source, out, registered["model"], registered["uri"], text_column="text_col")
    score_spark(source, out, registered["model"], registered["uri"], text_column="text_col", target="troops",
                force=True)
    got = pd.read_parquet(out)
    assert not (out / "old.txt").exists() and leftovers(tmp_path) == []
    assert got["id"].dtype == np.int64 and got["id"].tolist() == [i * 10 for i in range(102) if i != 5]
    assert set(got["target"]) == {"troops"}


def test_errors_found_by_spark_are_one_line(spark, registered, tmp_path):
    """A URI (here file://) skips the local checks: Spark reports the same errors."""
    (tmp_path / "no_text.csv").write_text("id,statement\n1,Troops now.\n")
    (tmp_path / "empty.csv").write_text("id,text\n")
    for name, message in [("no_text.csv", "missing column 'text' (columns: id, statement)"),
                          ("empty.csv", "empty input: no rows"), ("absent.csv", "input not found")]:
        with pytest.raises(StanceError) as error:
            score_spark(f"file://{tmp_path / name}", f"file://{tmp_path / 'out.parquet'}", registered["model"],
                        registered["uri"])
        assert str(error.value) == f"file://{tmp_path / name}: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "no_text.csv"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([STANCE, "predict", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=clean_env())


def test_cli_writes_parquet_and_prints_one_summary_line(encoder_model, tmp_path):
    frame = statements()
    write_input(frame, tmp_path / "in.csv")
    proc = run_cli("--spark", "in.csv", "out.parquet", "-m", encoder_model["model"], "--tracking-uri",
                   encoder_model["uri"], "--spark-master", "local[2]", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = [line for line in proc.stderr.splitlines() if " predictions in " in line]
    pattern = (r"101 predictions in [\d.]+ s \(\d+ rows/s scoring, [\d.]+ s Spark start; lean engine on local\[2\], "
               r"1 blank skipped\) -> " + re.escape(str(tmp_path / "out.parquet")))
    assert len(summary) == 1 and re.fullmatch(pattern, summary[0]), proc.stderr
    assert not [line for line in proc.stderr.splitlines() if "Traceback" in line or " WARN " in line]
    assert_same(pd.read_parquet(tmp_path / "out.parquet"), expected(frame, encoder_model))


def test_cli_bad_inputs_are_one_line_with_exit_2(registered, tmp_path):
    (tmp_path / "no_text.csv").write_text("id,statement\n1,Troops now.\n")
    (tmp_path / "in.csv").write_text("id,text\n1,Troops now.\n")
    (tmp_path / "taken.parquet").mkdir()
    model = ["-m", registered["model"], "--tracking-uri", registered["uri"]]
    cases = [(["no_text.csv", "out.parquet"], "no_text.csv: missing column 'text' (columns: id, statement)"),
             (["absent.csv", "out.parquet"], "absent.csv: input not found"),
             (["in.csv", "taken.parquet"], "taken.parquet: the output exists: add --force to replace it"),
             (["in.txt", "out.parquet"], "unknown input format '.txt'"),
             (["in.csv"], "--spark needs two arguments, INPUT and OUTPUT (got 1)")]
    (tmp_path / "in.txt").write_text("Troops now.\n")
    for args, message in cases:
        proc = run_cli("--spark", *args, *model, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: ") and message in proc.stderr
    entry = subprocess.run([sys.executable, "-m", "stance.serving.spark", "absent.csv", "out.parquet"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env=clean_env())
    assert (entry.returncode, entry.stderr) == (2, "error: absent.csv: input not found\n")
    no_java = {k: v for k, v in clean_env().items() if k != "JAVA_HOME"} | {"PATH": str(Path(STANCE).parent)}
    proc = subprocess.run([STANCE, "predict", "--spark", "in.csv", "out.parquet", *model], cwd=tmp_path, env=no_java,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr == ("error: Spark needs Java 17 or later: no 'java' on PATH and no "
                                                    "JAVA_HOME (install a JDK)\n"), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.txt", "no_text.csv", "taken.parquet"]
    assert not any((tmp_path / "taken.parquet").iterdir())


def test_spark_module_imports_no_pyspark():
    probe = "import sys, stance.serving.spark; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
