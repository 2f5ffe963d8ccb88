"""The fixed label set and target of the foreign-troops corpus (see ../shared/label-spec.md)."""

from __future__ import annotations

#: Label names in the order used for integer ids everywhere (ClassLabel, models, reports).
LABELS: tuple[str, ...] = ("support", "oppose", "neutral")

#: The target of the seed corpus, written into every annotation record.
FOREIGN_TROOPS_TARGET = "foreign troops deployed in Ukraine"

#: Each label's definition in ../shared/label-spec.md (the stance is the holder's), for
#: annotation tools to show beside the choices.
LABEL_HINTS: dict[str, str] = {
    "support": "The holder favours, proposes, plans, commits to, or defends deploying such forces, or says the "
               "other side will accept them. Conditional support is support.",
    "oppose": "The holder rejects, objects to, warns against, or calls unacceptable or a threat the deployment "
              "of such forces, or dismisses the idea.",
    "neutral": "The holder expresses no position on the target: background, reporting of talks, other topics, "
               "open questions, doubts about feasibility, refusals to comment that point to no known position.",
}


def target_or(target, default: str | None) -> str | None:
    """A statement's target as given, or ``default`` where it is missing, not a string or blank
    (the one rule for a missing target, in training and in every prediction path)."""
    return target if isinstance(target, str) and target.strip() else default
