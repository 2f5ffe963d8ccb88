"""How faithful ``stance explain`` is: deletion curves on real text.

For each model and method, every statement is explained, then its words are deleted one more at a
time, k = 0..K: the top-k words by the explanation (those pushing most towards the predicted label
first) and k words at random (seeded, averaged over several draws). Printed per model: the mean
probability of the predicted label at each k for both curves, the mean fall over k = 1..K of each
(the area over the curve, AOPC) and their difference (larger: the explanation finds words that
matter more than chance), and the time taken.

The statements are the real-text dev set beside the project
(``../shared/data/foreign-troops-dev/statements.jsonl``, read at run time; only figures and counts
are printed, never its sentences), else the seed gold statements, with a note (the models were
trained on those). Models: the registered champion (lean artefact: occlusion) and, with
``--tfidf URI``, a TF-IDF model loaded through MLflow from a temporary copy (nothing is written to
the store): its exact linear contributions and occlusion.

Run where the store is, e.g.::

    cd /work/fresh-final && python /work/main/benchmarks/explain.py --tracking-uri sqlite:///mlflow.db \\
        --tfidf runs:/<tfidf_logreg run>/model --n 100 --k 5
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared/data/foreign-troops-dev/statements.jsonl"
GOLD = ROOT / "annotations/gold.jsonl"


def statements(path: Path | None, n: int, seed: int) -> tuple[list[dict], str]:
    """A seeded sample of ``n`` statements (id, text, target), and where they came from."""
    from stance.io import read_jsonl

    note = ""
    if path is None:
        path = DEV
        if not DEV.is_file():
            path = GOLD
            note = " (the dev set is not beside the project: the seed gold statements, which the models trained on)"
    rows = [{"id": str(r["id"]), "text": r["text"], "target": r.get("target")} for _, r in read_jsonl(path)]
    chosen = sorted(random.Random(seed).sample(range(len(rows)), min(n, len(rows))))
    return [rows[k] for k in chosen], f"{path.name}: {len(chosen)} of {len(rows)} statements, seed {seed}{note}"


def measure(model, rows: list[dict], method: str, k: int, draws: int, seed: int) -> dict:
    """Explain every row with ``method`` and compute its deletion curves with the same model."""
    from stance.evaluation.faithfulness import deletion_curves, faithfulness
    from stance.serving.explanations import explain_rows

    started = time.perf_counter()
    explanations = explain_rows(model, rows, method)
    explain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    curves = []
    for number, (row, explanation) in enumerate(zip(rows, explanations)):
        def proba(texts, target=row["target"]):
            return model.scores(list(texts), [target] * len(texts))[0]

        curves.append(deletion_curves(proba, row["text"], explanation, k, draws, seed + number))
    return {"summary": faithfulness(curves), "explain_seconds": explain_seconds,
            "curve_seconds": time.perf_counter() - started, "explanations": explanations,
            "words": sum(len(e.words) for e in explanations)}


def report(name: str, method: str, result: dict, k: int) -> None:
    s, n = result["summary"], result["summary"].statements
    print(f"\n## {name}: {method}\n")
    print("| words deleted | by the explanation | at random |\n|---:|---:|---:|")
    for j in range(k + 1):
        print(f"| {j} | {s.explained[j]:.3f} | {s.random[j]:.3f} |")
    print(f"\nmean fall of the predicted label's probability over k = 1..{k}: by the explanation "
          f"{s.explained_drop:.3f}, at random {s.random_drop:.3f}, difference {s.difference:+.3f}")
    print(f"time: explaining {result['explain_seconds']:.1f} s ({result['explain_seconds'] / n:.2f} s a statement, "
          f"{result['words'] / n:.1f} words on average), deletion curves {result['curve_seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None,
                        help="the store (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    parser.add_argument("--champion", default=None, help="model URI (default: the registered champion)")
    parser.add_argument("--tfidf", default=None, help="a TF-IDF model's URI, e.g. runs:/<id>/model")
    parser.add_argument("--data", type=Path, default=None, help="JSONL with id, text, target (default: the dev set)")
    parser.add_argument("--n", type=int, default=100, help="statements (a seeded sample)")
    parser.add_argument("--k", type=int, default=5, help="largest number of words deleted")
    parser.add_argument("--draws", type=int, default=5, help="random deletion orders averaged")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--skip-champion", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import numpy as np

    from stance.serving.predict import load
    from stance.tracking.store import CHAMPION_URI

    rows, source = statements(args.data, args.n, args.seed)
    print(f"# stance explain: deletion curves\n\n{source}; K = {args.k}, {args.draws} random draws; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    if not args.skip_champion:
        started = time.perf_counter()
        champion = load(args.champion or CHAMPION_URI, args.tracking_uri)
        seconds = time.perf_counter() - started
        print(f"\nchampion {args.champion or CHAMPION_URI} loaded ({champion.how}) in {seconds:.1f} s")
        report(f"champion ({args.champion or CHAMPION_URI})", "occlusion",
               measure(champion, rows, "occlusion", args.k, args.draws, args.seed), args.k)
    if args.tfidf:
        model = load(args.tfidf, args.tracking_uri, lean=False)  # a temporary copy: the store is left as it is
        results = {method: measure(model, rows, method, args.k, args.draws, args.seed)
                   for method in ("linear", "occlusion")}
        for method, result in results.items():
            report(f"TF-IDF ({args.tfidf})", method, result, args.k)
        same = np.mean([a.ranked(1) == b.ranked(1) for a, b in
                        zip(results["linear"]["explanations"], results["occlusion"]["explanations"])])
        print(f"\nlinear and occlusion name the same strongest word for {same:.0%} of the statements")


if __name__ == "__main__":
    main()
