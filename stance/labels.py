"""The fixed label set and target of the foreign-troops corpus (see ../shared/label-spec.md)."""

from __future__ import annotations

#: Label names in the order used for integer ids everywhere (ClassLabel, models, reports).
LABELS: tuple[str, ...] = ("support", "oppose", "neutral")

#: The target of the seed corpus, written into every annotation record.
FOREIGN_TROOPS_TARGET = "foreign troops deployed in Ukraine"
