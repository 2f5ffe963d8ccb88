"""Spark scoring, measured: statements/s of ``stance predict --spark`` on a local master with the
lean engine (mapInPandas) and the pyfunc engine (``mlflow.pyfunc.spark_udf``), against the
single-process lean path (``stance.serving.predict.classify``), on the same N statements and model.

Prints, as a markdown table: the Spark session's start and its first query (the JVM warming up)
apart; for each path the seconds of the scoring job (for Spark: the Parquet write job, which
includes loading the model in each Python worker) and the statements/s it gives, the seconds
end to end (Spark: reading, counting, scoring and the atomic write, session already running;
single process: loading the model and classifying) and the labels that differ from the
single-process path.

Statements (default 10,000): distinct ones, each one to three of the 100 article statements of
annotations/gold.jsonl joined (seeded), so that no path profits from its per-process cache of
sentence vectors; ``--repeat`` repeats the 100 statements instead (every encoder then encodes
only 100 texts a process). The model: ``--model`` in ``--tracking-uri`` (default the project's
champion in its mlflow.db), or ``--train``: the champion configuration trained, logged and
registered in a temporary store (as benchmarks/lean.py does).

Run from the project root:  python benchmarks/spark.py [--n 10000] [--master local[2]] [--train] [--repeat]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "annotations/gold.jsonl"


def article_statements() -> list[dict]:
    records = [json.loads(line) for line in GOLD.read_text().splitlines()]
    return [r for r in records if r.get("origin") != "written"]


def make_rows(n: int, repeat: bool, seed: int = 0) -> list[dict]:
    """N input rows (id, text, target): distinct joins of one to three article statements, or repeats."""
    gold = article_statements()
    target = gold[0]["target"]
    if repeat:
        texts = [gold[k % len(gold)]["text"] for k in range(n)]
    else:
        rng, seen = random.Random(seed), set()
        while len(seen) < n:
            seen.add(" ".join(r["text"] for r in rng.sample(gold, rng.choice((1, 2, 2, 3)))))
        texts = sorted(seen, key=lambda _: rng.random())
    return [{"id": f"b{k}", "text": text, "target": target} for k, text in enumerate(texts)]


def load_average() -> str:
    """The machine's load over the last 1, 5 and 15 minutes (other work on it skews the rates)."""
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    from stance.tracking.store import CHAMPION_URI

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="statements to score")
    parser.add_argument("--model", default=CHAMPION_URI)
    parser.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'mlflow.db'}")
    parser.add_argument("--train", action="store_true", help="train and register the champion configuration in a "
                        "temporary store and measure that model")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", action="store_true", help="repeat the 100 article statements")
    parser.add_argument("--engines", default="single,lean,pyfunc", help="paths to measure, comma-separated")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from stance.experiment.jobs import quiet_libraries

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    import pandas as pd

    from stance.serving.predict import classify, load
    from stance.serving.spark import score_spark, session

    scratch = Path(tempfile.mkdtemp(prefix="stance-spark-bench-"))
    uri, model = args.tracking_uri, args.model
    if args.train:
        sys.path.insert(0, str(Path(__file__).parent))
        from lean import setup  # benchmarks/lean.py: the champion configuration, registered as bench@champion

        uri, model = setup(scratch / "store")
    rows = make_rows(args.n, args.repeat)
    pd.DataFrame(rows).to_parquet(scratch / "statements.parquet")
    print(f"{len(rows)} statements ({'repeated' if args.repeat else 'distinct'}; {len({r['text'] for r in rows})} "
          f"distinct, {sum(len(r['text']) for r in rows) / len(rows):.0f} characters on average), model {model} "
          f"in {uri}, {os.cpu_count()} cores\n", flush=True)

    lines, labels = [], {}
    engines = args.engines.split(",")
    if "single" in engines:
        loaded, load_s = timed(load, model, uri)
        out, seconds = timed(classify, rows, model, uri, progress=False)
        labels["single"] = [r["label"] for r in out]
        lines.append(("single process, lean fp32 (stance.serving.predict.classify)", seconds, load_s + seconds, "-"))
        print(f"single process: {len(rows) / seconds:.1f} statements/s ({loaded.how}; {load_average()})", flush=True)
    spark, session_s = timed(session, args.master)
    _, first_s = timed(lambda: spark.range(1).count())
    print(f"Spark session on {spark.sparkContext.master}: started in {session_s:.1f} s, first query {first_s:.1f} s",
          flush=True)
    for engine in (e for e in ("lean", "pyfunc") if e in engines):
        output = scratch / f"scored-{engine}.parquet"
        try:
            result = score_spark(scratch / "statements.parquet", output, model, uri, engine=engine)
        except Exception as exc:  # noqa: BLE001 - a path that fails is reported, the others still measured
            print(f"{engine} engine: failed: {(str(exc) or type(exc).__name__).splitlines()[-1][:300]}", flush=True)
            continue
        got = pd.read_parquet(output)["label"].tolist()
        differ = str(sum(a != b for a, b in zip(got, labels["single"]))) if "single" in labels else "-"
        lines.append((f"Spark {spark.sparkContext.master}, {engine} engine ({result['partitions']} partitions)",
                      result["write_seconds"], result["seconds"], differ))
        print(f"{engine} engine: {result['rows_per_second']:.1f} statements/s ({load_average()})", flush=True)
    spark.stop()
    shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n| path | scoring s | statements/s | end-to-end s | statements/s end to end | labels differing |\n"
          f"|---|---:|---:|---:|---:|---:|")
    n = len(rows)
    for name, seconds, total, differ in lines:
        print(f"| {name} | {seconds:.1f} | {n / seconds:.1f} | {total:.1f} | {n / total:.1f} | {differ} |")
    print(f"\nSpark session start: {session_s:.1f} s; first query (JVM warm-up): {first_s:.1f} s "
          "(paid once per session, not in the rows above)")


if __name__ == "__main__":
    main()
