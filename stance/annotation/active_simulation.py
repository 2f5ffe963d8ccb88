"""The active-learning experiment: the simulation of :func:`stance.annotation.active.simulate` on the
project's corpus, written as a page with its table and figure (``stance suggest-simulate``).

Features are the frozen sentence embeddings of the packaged MiniLM; the model is logistic
regression with balanced class weights (the ``embed_logreg`` family), refitted after every
batch. Held-out statements are always real article statements (leave one article out); the
written statements are only ever in the pool.
"""

from __future__ import annotations

from pathlib import Path

#: The strategies compared: (name, diverse).
COMPARED = (("random", False), ("margin", False), ("entropy", False), ("margin", True))


def run(frame, out_dir: str | Path, repeats: int = 10, start: int = 20, step: int = 10, budget: int = 300) -> dict:
    """Simulate the strategies of :data:`COMPARED` on ``frame`` (a corpus's rows: text, label, group,
    origin), ``repeats`` random starts each, and write the page; the summary and labels saved."""
    import numpy as np

    from stance.annotation.active import labels_saved, simulate, summarise
    from stance.models.encoders import embed

    features = embed(None, frame["text"].tolist(), 64, "auto")
    y = frame["label"].to_numpy()
    groups = frame["group"].astype(str).to_numpy()
    testable = (frame["origin"] == "article").to_numpy()
    rows = simulate(features, y, groups, testable, COMPARED, seeds=list(range(repeats)), start=start, step=step,
                    budget=budget)
    summary = summarise(rows)
    saved = labels_saved(summary)
    out_dir = Path(out_dir)
    write_page(summary, saved, out_dir, n_pool=int(len(frame) - testable.sum() / len(set(groups[testable]))),
               articles=len(set(groups[testable])), repeats=repeats, start=start, step=step, budget=budget)
    return {"summary": summary, "saved": saved, "rows": len(rows), "features": int(np.asarray(features).shape[1])}


def write_page(summary, saved: dict, out_dir: Path, **facts) -> None:
    from stance.io import atomic_write, atomic_write_text
    from stance.plots import curve_figure
    from stance.tables import markdown_table

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "results.csv", summary.to_csv(index=False, float_format="%.4f"))
    lines = {s: [(float(r.labels), r["mean"], r["low"], r["high"]) for _, r in g.sort_values("labels").iterrows()]
             for s, g in summary.groupby("strategy")}
    figure = curve_figure(lines, "macro_f1", title="Active learning: macro-F1 on held-out articles vs labels used")
    figure.axes[0].set_xlabel("labelled statements")
    figure.axes[0].set_ylabel("macro-F1 on the held-out article (95% CI over seeds)")
    atomic_write(out_dir / "curve.png", lambda tmp: figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png"))
    shown = sorted({facts["start"], 50, 100, 150, 200, facts["budget"]} & set(summary["labels"]))
    header = ["strategy", *(f"{n} labels" for n in shown), "labels saved vs random"]
    rows = []
    for strategy, group in summary.groupby("strategy"):
        by = group.set_index("labels")
        cells = [f"{by.loc[n, 'mean']:.3f} [{by.loc[n, 'low']:.3f}, {by.loc[n, 'high']:.3f}]" for n in shown]
        rows.append([strategy, *cells, "-" if strategy == "random" else
                     ("never reached" if saved[strategy] is None else str(saved[strategy]))])
    base = summary[summary["strategy"] == "random"].sort_values("labels").iloc[-1]
    page = f"""# Active learning: which statements to label next?

**Question.** When a new article's statements wait to be labelled, does labelling the ones the
model is least sure of (`stance suggest`) reach a given macro-F1 with fewer labels than
labelling them in random order?

**Set-up** (`stance suggest-simulate`, seeded, {facts['repeats']} random starts). Leave one article out
({facts['articles']} articles): its statements are the test set; every other statement (the other
articles' and the written ones, about {facts['n_pool']} a fold) is the unlabelled pool. Start from
{facts['start']} random labels, then add {facts['step']} at a time by each strategy up to {facts['budget']};
after each batch, logistic regression on frozen MiniLM embeddings (class-balanced) is refitted
and scored on the held-out article. Figures: mean over seeds of the mean macro-F1 over held-out
articles, with a 95% t interval over seeds.

![macro-F1 against labels used](curve.png)

{markdown_table(header, rows)}

Random order reaches {base['mean']:.3f} at {int(base['labels'])} labels. "Labels saved" is how
many fewer labels a strategy needs to reach that figure (first point of its mean curve at or
above it). The full curves are in `results.csv`.
"""
    atomic_write_text(out_dir / "README.md", page)
