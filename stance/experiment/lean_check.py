"""Whether the reduced-precision copies of a registered model keep its labels, measured on the
external yardstick (the real-text dev set) right after registration, and printed.

Each copy of the lean artefact (:mod:`stance.serving.precision`) scores the same statements as
the fp32 copy; the macro-F1 of each and the labels that differ are reported. A copy that moves
macro-F1 by more than :data:`TOLERANCE` gets a warning line saying to predict in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

from stance.labels import LABELS

#: The largest change of macro-F1 a reduced copy may bring and still count as keeping the labels.
TOLERANCE = 0.005


@dataclass(frozen=True)
class CopyCheck:
    """One copy of a model's graphs against fp32 on the same statements."""

    precision: str
    macro_f1: float
    reference_f1: float
    differing: int
    statements: int

    @property
    def change(self) -> float:
        return self.macro_f1 - self.reference_f1

    @property
    def keeps_labels(self) -> bool:
        return abs(self.change) <= TOLERANCE


def check_copies(model_uri: str, tracking_uri: str, data) -> tuple[float, list[CopyCheck]]:
    """fp32's macro-F1 on ``data`` (a yardstick's dataset: ``text``, ``target``, ``label`` and ``id``) and each
    reduced copy's check; a copy the artefact lacks (int8 of a fine-tuned classifier) is left out.
    No checks (and NaN) when the model has no lean form or no ONNX graph (TF-IDF alone)."""
    from sklearn.metrics import f1_score

    from stance.serving.onnx.inference import holds_copy
    from stance.serving.predict import load, score
    from stance.serving.rows import rows_from

    rows = rows_from([{"id": str(i), "text": t, "target": g} for i, t, g in zip(data["id"], data["text"],
                                                                                data["target"])])
    names = data.features["label"].names
    gold = [names[code] for code in data["label"]]
    reference = load(model_uri, tracking_uri, precision="fp32")
    if not reference.how.startswith("lean") or not reference.model.spec["encoders"]:
        return float("nan"), []  # no lean form, or no graphs (TF-IDF): nothing to reduce
    base = [row["label"] for row in score(reference, rows, progress=False)]
    base_f1 = float(f1_score(gold, base, labels=list(LABELS), average="macro", zero_division=0))
    checks = []
    lean = reference.model
    for precision in ("w8", "int8"):
        if not holds_copy(lean.folder, lean.spec["encoders"], precision):
            continue  # no such copy: it would run fp32
        model = load(model_uri, tracking_uri, precision=precision)
        labels = [row["label"] for row in score(model, rows, progress=False)]
        checks.append(CopyCheck(precision, float(f1_score(gold, labels, labels=list(LABELS), average="macro",
                                                          zero_division=0)),
                                base_f1, sum(a != b for a, b in zip(base, labels)), len(rows)))
    return base_f1, checks


def report(name: str, base_f1: float, checks: list[CopyCheck]) -> list[str]:
    """The lines printed after registration."""
    if not checks:
        return []
    n = checks[0].statements
    lines = [f"lean copies on {name} ({n} statements): fp32 macro-F1 {base_f1:.4f}; " + "; ".join(
        f"{c.precision} {c.macro_f1:.4f} (change {c.change:+.4f}, {c.differing} labels differ)" for c in checks)]
    lines += [f"warning: the {c.precision} copy changes macro-F1 by more than {TOLERANCE}: predict with "
              "--precision fp32" for c in checks if not c.keeps_labels]
    return lines
