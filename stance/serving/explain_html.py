"""Explanations as one self-contained HTML page: inline CSS, no script, no external asset.

Each statement shows its label and probabilities, its text with every word's background coloured
by the sign of its weight (green: towards the predicted label, red: against it) and shaded by its
strength (relative to the statement's strongest word), and its strongest words listed. Every piece
of text is escaped (:func:`html.escape`).
"""

from __future__ import annotations

from html import escape

from stance.labels import LABELS

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
.statement { border-top: 1px solid #ccc; padding: 0.8rem 0; }
.head { font-size: 0.9rem; color: #555; margin-bottom: 0.3rem; }
.label { font-weight: bold; color: #222; }
.text { font-size: 1.1rem; line-height: 1.9; }
.text span { border-radius: 3px; padding: 0.1rem 0.05rem; }
.top { font-size: 0.85rem; color: #444; margin-top: 0.3rem; }
.legend span { padding: 0.1rem 0.4rem; border-radius: 3px; margin-right: 0.5rem; }
"""
POSITIVE, NEGATIVE = "0, 140, 60", "200, 30, 30"


def _colour(weight: float, strongest: float) -> str:
    if strongest <= 0 or weight == 0:
        return "transparent"
    alpha = 0.1 + 0.6 * min(abs(weight) / strongest, 1.0)
    return f"rgba({POSITIVE if weight > 0 else NEGATIVE}, {alpha:.2f})"


def highlighted(text: str, words: list[dict]) -> str:
    """``text`` as escaped HTML with each word in a ``<span>`` coloured by its weight (its weight as a tooltip)."""
    strongest = max((abs(w["weight"]) for w in words), default=0.0)
    parts, last = [], 0
    for w in sorted(words, key=lambda w: w["start"]):
        parts.append(escape(text[last : w["start"]]))
        parts.append(f'<span style="background: {_colour(w["weight"], strongest)}" title="{w["weight"]:+.4f}">'
                     f'{escape(text[w["start"] : w["end"]])}</span>')
        last = w["end"]
    parts.append(escape(text[last:]))
    return "".join(parts)


def _strongest(words: list[dict], k: int) -> list[dict]:
    order = sorted(words, key=lambda w: (-abs(w["weight"]), w["start"]))
    return order[:k] if k else order


def _statement(rec: dict, k: int) -> str:
    probabilities = " · ".join(f"{escape(label)} {rec[f'p_{label}']:.3f}" for label in LABELS)
    top = ", ".join(f"<b>{escape(w['token'])}</b> {w['weight']:+.3f}"
                    for w in _strongest(rec["words"], k)) or "(no words)"
    return (f'<div class="statement"><div class="head">{escape(str(rec["id"]))}: '
            f'<span class="label">{escape(rec["label"])}</span> {rec["confidence"]:.3f} '
            f'({probabilities}; {escape(rec["method"])}, weights in {escape(rec["units"])})</div>'
            f'<div class="text">{highlighted(rec["text"], rec["words"])}</div>'
            f'<div class="top">top words: {top}</div></div>')


def render(records: list[dict], k: int = 5, title: str = "Explanations") -> str:
    """The page for :func:`stance.serving.explanations.record` dicts; ``k`` strongest words listed each."""
    legend = (f'<p class="legend"><span style="background: rgba({POSITIVE}, 0.6)">towards the predicted label</span>'
              f'<span style="background: rgba({NEGATIVE}, 0.6)">against it</span> shade: the weight relative to '
              "the statement's strongest word; hover a word for its weight.</p>")
    body = "\n".join(_statement(rec, k) for rec in records)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{escape(title)}</h1>\n{legend}\n{body}\n</body></html>\n")
