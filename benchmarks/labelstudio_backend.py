"""How long ``stance labelstudio backend`` takes to pre-label Label Studio tasks.

Starts the backend's app (:mod:`stance.serving.ml_backend`, on uvicorn on 127.0.0.1) on a model
of a trained store and sends Label Studio's ``POST /predict`` request, as Label Studio sends it
(``{"tasks": [{"id", "data": {"text", "target"}}], "project", "label_config", "params"}``), for
one task and for a batch of 50 tasks, each on a new connection. Prints a Markdown table: the
model's load time, and the median and 90th percentile of the request times.

The store is read from a copy (sqlite's backup), so nothing is written to it (a first use of a
model without a lean-artefact record writes one: into the copy). Artifacts are cwd-relative in
the main job's store, so the script runs from the store's folder. Models: the registered champion,
and the store's tfidf_logreg run (the TF-IDF family). Statements: the project's own
``annotations/gold.jsonl``.

Run:  python benchmarks/labelstudio_backend.py [--store /work/fresh-final/mlflow.db] [--repeats 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "annotations/gold.jsonl"


def _post(port: int, body: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 200, answer
    return time.perf_counter() - started, answer


def _request(texts: list[str], config: str) -> bytes:
    from stance.labels import FOREIGN_TROOPS_TARGET

    tasks = [{"id": k + 1, "data": {"text": t, "target": FOREIGN_TROOPS_TARGET}} for k, t in enumerate(texts)]
    return json.dumps({"tasks": tasks, "project": "1.1700000000", "label_config": config,
                       "params": {"login": None, "password": None, "context": None}}).encode()


def measure(model_uri: str, tracking_uri: str, texts: list[str], repeats: int) -> dict:
    from stance.annotation.labelstudio import labelling_config
    from stance.labels import FOREIGN_TROOPS_TARGET
    from stance.serving.ml_backend import make_backend_server
    from stance.serving.predict import load
    from stance.serving.server import Service

    started = time.perf_counter()
    model = getattr(load, "__wrapped__", load)(model_uri, tracking_uri)
    service = Service(model, model_uri, tracking_uri)
    loaded = time.perf_counter() - started
    server = make_backend_server(service, lambda project, path: {}, "127.0.0.1", 0,
                                 labels_dir=tempfile.mkdtemp(prefix="ls-bench-")).start()
    config = labelling_config(FOREIGN_TROOPS_TARGET)
    try:
        _post(server.port, _request(texts[:1], config))  # warm-up
        one = [_post(server.port, _request([texts[k % len(texts)]], config))[0] for k in range(repeats)]
        batch = []
        for k in range(max(3, repeats // 4)):
            seconds, answer = _post(server.port, _request(texts[:50], config))
            assert len(answer["results"]) == 50
            batch.append(seconds)
    finally:
        server.stop()
    return {"model": model_uri, "runtime": model.how, "load_s": loaded, "one": one, "batch": batch}


def _q(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="/work/fresh-final/mlflow.db", help="The sqlite file of a trained store.")
    parser.add_argument("--repeats", type=int, default=20, help="Single-task requests (batches: a quarter of it).")
    args = parser.parse_args()
    store = Path(args.store).resolve()
    texts = [json.loads(line)["text"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()][:50]
    scratch = Path(tempfile.mkdtemp(prefix="ls-bench-store-"))
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as source, sqlite3.connect(scratch / "mlflow.db") as copy:
        source.backup(copy)
        tfidf = copy.execute("select t.run_uuid from tags t join runs r on r.run_uuid = t.run_uuid where "
                             "t.key = 'stance.model' and t.value = 'tfidf_logreg' and r.status = 'FINISHED' "
                             "order by r.start_time desc limit 1").fetchone()
    os.chdir(store.parent)  # the main job's artifacts are relative to its folder
    tracking_uri = f"sqlite:///{scratch / 'mlflow.db'}"
    models = ["models:/stance-foreign-troops@champion"] + ([f"runs:/{tfidf[0]}/model"] if tfidf else [])
    rows = [measure(uri, tracking_uri, texts, args.repeats) for uri in models]
    print(f"Label Studio ML backend, POST /predict on 127.0.0.1 ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end; {args.repeats} single-task requests, {len(rows[0]['batch'])} "
          f"batches of 50; statements from annotations/gold.jsonl; store {store})\n")
    print("| model | runtime | load (s) | 1 task p50 (ms) | 1 task p90 (ms) | 50 tasks p50 (s) | 50 tasks p90 (s) "
          "| per task in a batch (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        p50 = statistics.median(row["batch"])
        print(f"| {row['model']} | {row['runtime']} | {row['load_s']:.1f} | {1000 * statistics.median(row['one']):.0f} "
              f"| {1000 * _q(row['one'], 0.9):.0f} | {p50:.2f} | {_q(row['batch'], 0.9):.2f} | {1000 * p50 / 50:.0f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
