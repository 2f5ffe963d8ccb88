"""Where the hardware is: the encoder models on each device, timed and scored.

For each model and device (``cpu``; ``cuda`` where a GPU is present) it cross-validates
leaving each article out, with the written statements added to every training fold (the
main job's set-up), and prints the fit time per fold, the time per training epoch and the
macro-F1 with its 95% bootstrap CI over the article statements. It needs neither MLflow nor
Hydra, so it runs on a bare GPU machine with the package and its model libraries.

    python benchmarks/device.py                                  # every model, every device here
    python benchmarks/device.py --devices cpu --max-folds 1 --epochs 1 --models finetune
    python benchmarks/device.py --pretrained /path/to/encoder --out figures.json

The models are built as ``conf/model/*.yaml`` builds them (same parameters), with
``--epochs`` optionally overriding the fine-tuning epochs to time one epoch quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(model: str, device: str, pretrained: str | None, epochs: float | None, seed: int,
          mixed_precision: bool = True):
    """The classifier ``conf/model/<model>.yaml`` configures, on ``device``."""
    from stance.models import EmbeddingLogReg, FineTuneClassifier, SetFitClassifier, TfidfEmbeddingClassifier

    if model == "embed_logreg":
        return EmbeddingLogReg(pretrained=pretrained, device=device, seed=seed)
    if model == "tfidf_embed_svm":
        return TfidfEmbeddingClassifier(pretrained=pretrained, device=device, seed=seed)
    if model == "setfit":
        return SetFitClassifier(pretrained=pretrained, device=device, num_iterations=2, num_epochs=1, batch_size=16,
                                body_learning_rate=2e-5, max_length=128, seed=seed)
    if model == "finetune":
        return FineTuneClassifier(pretrained=pretrained, device=device, epochs=epochs or 8.0, learning_rate=1e-4,
                                  batch_size=8, mixed_precision=mixed_precision, seed=seed)
    raise SystemExit(f"unknown model '{model}'")


def epochs_of(estimator) -> float:
    return float(getattr(estimator, "epochs", getattr(estimator, "num_epochs", 1)))


def main() -> None:
    import pandas as pd
    import torch

    from stance.annotation.passes import read_records
    from stance.data.splits import ArticleKFold
    from stance.evaluation.metrics import fold_metrics, summarise
    from stance.models.base import proba_by_label
    from stance.labels import LABELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="embed_logreg,tfidf_embed_svm,setfit,finetune")
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--pretrained", default=None, help="Encoder folder (default: the packaged MiniLM).")
    parser.add_argument("--max-folds", type=int, default=0, help="Only the first N folds (0: all).")
    parser.add_argument("--epochs", type=float, default=None, help="Fine-tuning epochs (default: the config's 8).")
    parser.add_argument("--no-written", action="store_true", help="Train on the article statements alone.")
    parser.add_argument("--no-mixed-precision", action="store_true", help="Fine-tune in fp32 on a GPU too.")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=None, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    articles = read_records(ROOT / "annotations/gold.jsonl")
    written = [] if args.no_written else read_records(ROOT / "annotations/written/gold.jsonl")
    frame = lambda records: pd.DataFrame({"text": [r["text"] for r in records],  # noqa: E731
                                          "target": [r["target"] for r in records]}, columns=["text", "target"])
    X_art, y_art = frame(articles), np.array([r["label"] for r in articles])
    X_w, y_w = frame(written), np.array([r["label"] for r in written])
    folds = ArticleKFold(seed=args.seed).indices([r["document"] for r in articles], X_art["text"].tolist(),
                                                 [LABELS.index(label) for label in y_art])
    if args.max_folds:
        folds = folds[: args.max_folds]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch {torch.__version__}, GPU: {gpu}, CPU threads: {torch.get_num_threads()}, "
          f"{len(folds)} folds, {len(X_w)} written statements in every training fold", flush=True)
    results = []
    for model in args.models.split(","):
        for device in args.devices.split(","):
            per_fold, pairs, fit_seconds = [], [], []
            for name, train, test in folds:
                estimator = build(model, device, args.pretrained, args.epochs, args.seed, not args.no_mixed_precision)
                X = pd.concat([X_art.iloc[train], X_w], ignore_index=True)
                y = np.concatenate([y_art[train], y_w])
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                started = time.perf_counter()
                estimator.fit(X, y)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                fit_seconds.append(time.perf_counter() - started)
                predicted = [LABELS[i] for i in proba_by_label(estimator, X_art.iloc[test]).argmax(axis=1)]
                gold = y_art[test].tolist()
                per_fold.append(fold_metrics(gold, predicted))
                pairs.append((gold, predicted))
            summary = summarise(per_fold, pairs, n_resamples=1000, seed=args.seed)
            row = {"model": model, "device": device, "folds": len(folds), "written": len(X_w),
                   "mixed_precision": device.startswith("cuda") and not args.no_mixed_precision,
                   "fit_seconds_per_fold": float(np.mean(fit_seconds)),
                   "seconds_per_epoch": float(np.mean(fit_seconds)) / epochs_of(estimator),
                   "macro_f1": summary["macro_f1_mean"], "ci_low": summary["macro_f1_ci_low"],
                   "ci_high": summary["macro_f1_ci_high"]}
            results.append(row)
            print(f"{model:16s} {device:6s} fit {row['fit_seconds_per_fold']:8.1f} s/fold  "
                  f"{row['seconds_per_epoch']:8.1f} s/epoch  macro-F1 {row['macro_f1']:.3f} "
                  f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}] over {len(folds)} folds", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"gpu": gpu, "results": results}, indent=2))


if __name__ == "__main__":
    main()
