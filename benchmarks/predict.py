"""Prediction speed: ``stance predict`` against a plain transformers pipeline on the same weights.

Trains the fine-tuned transformer and the TF-IDF model on the gold corpus (seeded), logs and
registers both in a temporary MLflow store, then prints:

* statements per second over N statements (default 10,000) through ``stance.serving.predict.predict``
  (length-sorted batches, dynamic padding, inference mode) for both models;
* the same for ``transformers.pipeline("text-classification")`` on the same fine-tuned
  weights and the same (statement, target) pairs, with its default batch size and with
  batch size 64, and how many labels differ from ours;
* the wall time of ``stance predict "<one statement>"`` from a cold start (a new process).

Run from the project root:  python benchmarks/predict.py [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = "Moscow will never accept NATO soldiers in Ukraine."


def make_statements(n: int, seed: int = 0) -> list[str]:
    """N statements of varied length: one to three gold sentences joined, drawn with a seed."""
    gold = [json.loads(line)["text"] for line in (ROOT / "annotations/gold.jsonl").read_text().splitlines()]
    rng = random.Random(seed)
    return [" ".join(rng.sample(gold, rng.choice((1, 1, 2, 3)))) for _ in range(n)]


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="statements to classify")
    parser.add_argument("--repeats", type=int, default=3, help="cold starts to time")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import pandas as pd
    import torch
    from transformers import pipeline

    from stance.data import load_corpus
    from stance.experiment.engine import as_xy
    from stance.labels import LABELS
    from stance.models import TfidfClassifier, FineTuneClassifier
    from stance.serving.predict import load, predict
    from stance.tracking.tracker import Tracker
    from stance.tracking.registry import register

    store = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    uri = f"sqlite:///{store}/mlflow.db"
    X, y = as_xy(load_corpus(ROOT / "annotations/gold.jsonl")["train"])
    target = X["target"].iloc[0]
    tracker = Tracker(uri, "benchmark", str(store / "artifacts"))
    models = {}
    for name, estimator in (("finetune", FineTuneClassifier(seed=13)), ("tfidf_logreg", TfidfClassifier(C=10.0))):
        _, fit_seconds = timed(estimator.fit, X, y)
        with tracker.run(name) as run:
            tracker.log_model(estimator, X.head(2))
        models[name] = (register(uri, run.info.run_id, f"bench-{name}", "champion"), estimator)
        print(f"trained {name} on {len(X)} statements in {fit_seconds:.1f} s", flush=True)

    statements = make_statements(args.n)
    frame = pd.DataFrame({"text": statements, "target": target})
    print(f"\n{args.n} statements, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores\n", flush=True)
    rows, ours = [], {}
    for name, (registered, _) in models.items():
        model_uri = f"models:/{registered.name}@champion"
        load(model_uri, uri)  # load once: throughput excludes loading (cold start is timed below)
        ours[name], seconds = timed(predict, frame, model_uri=model_uri, tracking_uri=uri, progress=False)
        rows.append((f"stance predict, {name}", args.n / seconds, seconds, "-"))
        print(f"  {rows[-1][0]}: {rows[-1][1]:.0f} statements/s", flush=True)

    hf_dir = store / "finetune-weights"
    models["finetune"][1].save(hf_dir)
    classifier = pipeline("text-classification", model=str(hf_dir / "hf"), tokenizer=str(hf_dir / "hf"), device=-1,
                          truncation=True, max_length=128)
    pairs = [{"text": s, "text_pair": target} for s in statements]
    reference = ours["finetune"]["label"].tolist()
    for batch_size in (None, 64):
        options = {} if batch_size is None else {"batch_size": batch_size}
        with torch.inference_mode():
            output, seconds = timed(classifier, pairs, **options)
        labels = [o["label"] for o in output]
        differ = sum(a != b for a, b in zip(labels, reference))
        rows.append((f"transformers pipeline, finetune, batch size {batch_size or 'default (1)'}",
                     args.n / seconds, seconds, f"{differ} of {args.n}"))
        print(f"  {rows[-1][0]}: {rows[-1][1]:.0f} statements/s", flush=True)

    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    cold = {}
    for name, (registered, _) in models.items():
        times = []
        for _ in range(args.repeats):
            command = [sys.executable, "-m", "stance.cli.commands", "predict", "-m", f"models:/{registered.name}@champion",
                       "-f", "csv", STATEMENT]
            proc, seconds = timed(subprocess.run, command, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"stance predict failed: {proc.stderr.strip()}")
            times.append(seconds)
        cold[name] = times

    print("\n| path | statements/s | seconds | labels differing from stance |")
    print("|---|---:|---:|---:|")
    for path, rate, seconds, differ in rows:
        print(f"| {path} | {rate:.0f} | {seconds:.1f} | {differ} |")
    speedups = [rows[0][1] / rate for _, rate, _, _ in rows[2:]]
    print(f"\nstance finetune vs pipeline: {speedups[0]:.2f}x the default pipeline, {speedups[1]:.2f}x the "
          "pipeline with batch size 64")
    for name, times in cold.items():
        print(f"cold start, stance predict \"<one statement>\" with {name}: median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)")
    print(f"labels: {', '.join(LABELS)}; store {store}")


if __name__ == "__main__":
    main()
