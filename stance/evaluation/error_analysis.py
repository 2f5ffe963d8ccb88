"""Error analysis of a run: the misclassified out-of-fold statements, most confident first,
as a table (``errors.csv``) and a page to read (``errors.md``)."""

from __future__ import annotations

from stance.tables import markdown_table

ERROR_COLUMNS = ("id", "document", "holder", "gold", "predicted", "confidence", "text")


def misclassified(predictions):
    """The out-of-fold predictions that are wrong, most confident first (a DataFrame)."""
    wrong = predictions[predictions["gold"] != predictions["predicted"]].rename(columns={"group": "document"})
    return wrong.sort_values(["confidence", "id"], ascending=[False, True], kind="stable")[list(ERROR_COLUMNS)]


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
        lines.append(markdown_table(
            ["gold", "predicted", "confidence", "holder", "document", "statement"],
            [[r["gold"], r["predicted"], f"{r['confidence']:.3f}", _cell(r["holder"]), _cell(r["document"]),
              _cell(r["text"])] for r in errors.to_dict(orient="records")],
            ["---", "---", "---:", "---", "---", "---"]))
    return "\n".join(lines) + "\n"
