"""A second yardstick: labelled real text from other sources, scored only.

Leaving one seed article out measures a model on 100 statements from five articles, three
of them on one story. An external yardstick (``conf/external/``, by default the real-text
development set beside the project, ``../shared/data/foreign-troops-dev/``) measures the
model trained on *all* of the project's statements on sentences from many other pages. It
is never trained on, and nothing from it is written into the project: its predictions are
logged with ids and page only, never with text.

:func:`load` reads it (or says in one line why it is skipped); :func:`score` is the model's
score on it: headline scores, per-class recall, calibration and a 95% CI that resamples
pages (sentences of one page are not independent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stance.labels import LABELS

log = logging.getLogger("stance")


def predictions_artifact(name: str) -> str:
    """The run artifact holding a yardstick's predictions (ids, page, gold, predicted, probabilities)."""
    return f"{name}_predictions.csv"


@dataclass
class Yardstick:
    name: str  #: the prefix of its metrics (``dev`` -> ``dev_macro_f1``)
    path: Path
    data: Any  #: a ``datasets.Dataset`` with id, text, target, label, group (the page)


def load(node, corpus_targets: set[str]) -> tuple[Yardstick | None, str | None]:
    """The yardstick configured by ``node`` (``cfg.external``), or None and a one-line reason.

    It is skipped, not an error, when its file is absent (a checkout without ``shared/``) or
    when it is about other targets than the corpus (e.g. ``data=tweeteval``).
    """
    from stance.data.loaders import load_table
    from stance.data.splits import pooled

    if node is None or not node.get("path"):
        return None, None
    path = Path(str(node.path)).expanduser()
    name = str(node.name)
    if not path.is_file():
        return None, f"external yardstick '{name}' skipped: {path} is not there"
    data = pooled(load_table(path, text_column="text", label_column="label", target_column="target",
                             id_column="id", group_column=node.get("group_column") or None))
    targets = set(data["target"])
    if not targets & corpus_targets:
        return None, (f"external yardstick '{name}' skipped: its target ({', '.join(sorted(targets))}) is not "
                      "the corpus's")
    return Yardstick(name, path, data), None


def grouped_bootstrap_ci(gold, predicted, groups, metric: str = "macro_f1", n_resamples: int = 1000,
                         confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A percentile CI of ``metric`` that resamples whole groups (pages) with replacement. Pure."""
    from stance.evaluation.metrics import label_codes, scores_from_confusion

    gold, predicted = label_codes(list(gold), LABELS), label_codes(list(predicted), LABELS)
    names, members = np.unique(np.asarray(list(groups)), return_inverse=True)
    size = len(LABELS)
    # counts[g] is group g's confusion matrix: a resample's matrix is the sum over drawn groups
    counts = np.zeros((len(names), size * size), dtype=np.int64)
    np.add.at(counts, (members, gold * size + predicted), 1)
    draws = np.random.default_rng(seed).integers(0, len(names), size=(n_resamples, len(names)))
    matrices = np.stack([np.bincount(d, minlength=len(names)) @ counts for d in draws]).reshape(-1, size, size)
    values = scores_from_confusion(matrices, LABELS)[metric]
    values = values[~np.isnan(values)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def score(rows: dict[str, list], yardstick: Yardstick, n_bootstrap: int = 1000, confidence: float = 0.95,
          seed: int = 0) -> tuple[dict[str, float], Any]:
    """The metrics of a model's predictions on the yardstick (``rows``: gold, predicted, confidence and
    p_<label> columns, one per statement in order) as ``<name>_macro_f1``, ``..._ci_low``,
    ``..._recall_neutral``, ...; and the predictions as a frame without the texts."""
    import pandas as pd

    from stance.evaluation.metrics import HEADLINE, expected_calibration_error, fold_metrics

    data, name = yardstick.data, yardstick.name
    scores = fold_metrics(rows["gold"], rows["predicted"])
    metrics = {f"{name}_{m}": scores[m] for m in HEADLINE}
    for m in HEADLINE:
        low, high = grouped_bootstrap_ci(rows["gold"], rows["predicted"], data["group"], m, n_bootstrap,
                                         confidence, seed)
        metrics[f"{name}_{m}_ci_low"], metrics[f"{name}_{m}_ci_high"] = low, high
    for label in LABELS:
        metrics[f"{name}_recall_{label}"] = scores[f"recall_{label}"]
        metrics[f"{name}_f1_{label}"] = scores[f"f1_{label}"]
    metrics[f"{name}_ece"] = expected_calibration_error(rows["confidence"],
                                                        np.equal(rows["gold"], rows["predicted"]))
    metrics[f"{name}_n"] = float(len(data))
    metrics[f"{name}_pages"] = float(len(set(data["group"])))
    frame = pd.DataFrame({"id": data["id"], "group": data["group"], "fold": 0, **rows})
    return metrics, frame
