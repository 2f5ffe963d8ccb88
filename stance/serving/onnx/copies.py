"""Whether a reduced-precision copy of an exported graph is kept: each copy is run beside the
fp32 graph on a few probe sentences right after the export, and dropped when it strays.

A copy that passes is still measured where it matters (the main job scores every copy of its
champion on the dev set: :mod:`stance.experiment.lean_check`); this check catches the copies
that are broken outright on this CPU and library, such as the dynamic int8 copy of
all-mpnet-base-v2 on a CPU without VNNI, whose vectors came out unrelated to fp32's (cosine
-0.08 at worst).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: Neutral sentences of the kinds the models read (reported speech, numbers, names, a question).
PROBES = (
    "The minister said the government would decide after the summit.",
    "Officials declined to comment on the plans.",
    "We will not send soldiers, the president told reporters on Tuesday.",
    "Several European countries have offered to contribute to a reassurance force.",
    "The proposal was criticised by the opposition as reckless.",
    "Any deployment would require a ceasefire first, according to diplomats.",
    "Is this the right moment to discuss peacekeepers?",
    "About 30,000 troops could be involved, a report estimated.",
    "Moscow warned that it would treat such forces as legitimate targets.",
    "The talks ended without agreement.",
)
#: A sentence encoder's copy is kept when every probe's vector has at least this cosine to fp32's.
MIN_COSINE = 0.95
#: A classifier's copy is kept when it picks fp32's label on every probe and moves no probability
#: by more than this (a copy broken outright moves them by far more: the dynamic int8 copy of the
#: fine-tuned mpnet changed half of the labels).
MAX_PROBABILITY_CHANGE = 0.1


def _stray(folder: Path, precision: str) -> str | None:
    """Why the ``precision`` copy in ``folder`` strays from fp32 on :data:`PROBES` (None: it does not)."""
    from stance.scores import softmax
    from stance.serving.onnx.inference import OnnxEncoder

    reference, copy = OnnxEncoder(folder, "fp32"), OnnxEncoder(folder, precision)
    info = json.loads((folder / "encoder.json").read_text())
    if info.get("kind") == "classifier":
        pairs = [info.get("target") or "target"] * len(PROBES)  # paired with the model's own target
        before = softmax(reference.logits(list(PROBES), pairs).astype(np.float64))
        after = softmax(copy.logits(list(PROBES), pairs).astype(np.float64))
        change = float(np.abs(after - before).max())
        same = int((after.argmax(1) == before.argmax(1)).sum())
        if same < len(PROBES) or change > MAX_PROBABILITY_CHANGE:
            return (f"{same} of {len(PROBES)} probe labels as fp32's, probabilities moved by up to {change:.3f}"
                    f" (at most {MAX_PROBABILITY_CHANGE} allowed)")
        return None
    before, after = reference.encode(list(PROBES)), copy.encode(list(PROBES))
    cosine = (before * after).sum(1) / (np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1))
    if float(cosine.min()) < MIN_COSINE:
        return f"cosine to fp32's vectors {float(cosine.min()):.3f} at worst on {len(PROBES)} probes (at least " \
               f"{MIN_COSINE} needed)"
    return None


def keep_faithful_copies(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """Check each reduced copy (``files``: precision -> file name in ``folder``) against fp32;
    delete the ones that stray and return why, by precision (recorded in ``encoder.json``)."""
    dropped = {}
    for precision, name in files.items():
        if (folder / name).is_file():
            why = _stray(folder, precision)
            if why is not None:
                (folder / name).unlink()
                dropped[precision] = why
    return dropped
