"""Error analysis of a run: the misclassified out-of-fold statements, most confident first,
as a table (``errors.csv``) and a page to read (``errors.md``)."""

from __future__ import annotations

from stance.tables import markdown_table

ERROR_COLUMNS = ("id", "document", "holder", "gold", "predicted", "confidence", "text")


def misclassified(predictions, explanations: dict[str, str] | None = None):
    """The out-of-fold predictions that are wrong, most confident first (a DataFrame); with
    ``explanations`` (id -> the words that moved the prediction) of which one names a word, an
    ``explanation`` column too (a model no word moves, such as a majority baseline, gets none)."""
    wrong = predictions[predictions["gold"] != predictions["predicted"]].rename(columns={"group": "document"})
    wrong = wrong.sort_values(["confidence", "id"], ascending=[False, True], kind="stable")[list(ERROR_COLUMNS)]
    if any(explanations.values() if explanations else ()):
        wrong = wrong.assign(explanation=[explanations.get(str(i), "") for i in wrong["id"]])
    return wrong


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def errors_markdown(errors, title: str = "Misclassified statements") -> str:
    """The misclassified statements as a Markdown page: gold-to-predicted counts, then each one."""
    from collections import Counter

    pairs = Counter(zip(errors["gold"], errors["predicted"]))
    lines = [f"# {title}", "", f"{len(errors)} statements misclassified out of fold, most confident first.", ""]
    if pairs:
        lines += [markdown_table(["gold", "predicted", "statements"],
                                 [[g, p, str(n)] for (g, p), n in pairs.most_common()], ["---", "---", "---:"]), ""]
        words = "explanation" in errors.columns  # the words that moved the prediction (occlusion, signed)
        lines.append(markdown_table(
            ["gold", "predicted", "confidence", "holder", "document", "statement",
             *(["words towards the prediction"] if words else [])],
            [[r["gold"], r["predicted"], f"{r['confidence']:.3f}", _cell(r["holder"]), _cell(r["document"]),
              _cell(r["text"]), *([_cell(r["explanation"])] if words else [])]
             for r in errors.to_dict(orient="records")],
            ["---", "---", "---:", "---", "---", "---", *(["---"] if words else [])]))
    return "\n".join(lines) + "\n"
