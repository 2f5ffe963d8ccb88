"""Holder attribution, measured: the share of statements whose predicted holder matches the gold
one (:func:`stance.annotation.holder_match.matches`), with a 95 % bootstrap interval that resamples
whole articles (seed) or pages (dev set), for the attributor (:func:`stance.annotation.holders.attribute`)
and the earlier pattern heuristic (its first name, else ``author``), on

* the seed gold (``annotations/gold.jsonl``), each statement read with its article before it as context
  (and alone, for comparison);
* the written statements (``annotations/written/gold.jsonl``), each alone;
* the real-text dev set (``../shared/data/foreign-troops-dev/statements.jsonl``), each alone; evaluation
  only: the rules were written on the first two and invented sentences, never on this set.

Each row also splits the statements by their gold holder: ``attributed`` (someone is reported) and
``author`` (no one is). Only figures are printed, never a sentence.

Run from the project root:  python benchmarks/holders.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "annotations/gold.jsonl"
WRITTEN = ROOT / "annotations/written/gold.jsonl"
DEV = ROOT.parent / "shared/data/foreign-troops-dev/statements.jsonl"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------- the earlier heuristic
_NAME = r"(?:[A-Z][\w’'.-]*|al-|de|von|bin)(?:\s+(?:[A-Z][\w’'.-]*|al-|de|von|of|the)){0,4}"
_VERBS = r"(?:said|says|told|warned|stated|added|argued|insisted|claimed|noted|stressed|declared|announced|" \
         r"wrote|tweeted|replied|explained|suggested|asserted|reiterated|confirmed|denied)"
_PATTERNS = [
    re.compile(rf"(?P<holder>{_NAME})(?:,\s[^,]{{2,60}},)?\s+{_VERBS}\b"),
    re.compile(rf"\b{_VERBS}\s+(?P<holder>{_NAME})\s*(?:[.,;:!?]|$)"),
    re.compile(rf"\baccording to (?:the\s+)?(?P<holder>{_NAME})"),
]
_NOT_HOLDERS = {"He", "She", "It", "They", "We", "I", "You", "This", "That", "There", "The", "A", "An", "But", "And"}


def holders(text: str) -> list[str]:
    """Who a statement reports as speaking ("Peskov said", "according to the Kremlin"): the pattern
    heuristic stance predict --article used before stance.annotation.holders, the baseline here."""
    found = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            name = re.sub(r"^(?:The|the)\s+", "", match.group("holder")).strip(" .,’'")
            name = re.sub(r"\s+(?:of|the|de|von)$", "", name)
            if name and name not in _NOT_HOLDERS and name not in found:
                found.append(name)
    return found


def baseline(text: str) -> str:
    found = holders(text)
    return found[0] if found else "author"


def row(name: str, method: str, predicted: list[str], gold: list[str], groups: list[str]) -> str:
    from stance.annotation.holder_match import accuracy

    cells = []
    for part in (None, "attributed", "author"):
        keep = [k for k, g in enumerate(gold) if part is None or (g.lower() == "author") == (part == "author")]
        value, low, high = accuracy([predicted[k] for k in keep], [gold[k] for k in keep],
                                    [groups[k] for k in keep], n_resamples=2000, seed=0)
        cells.append(f"{value:.3f} [{low:.3f}, {high:.3f}] (n={len(keep)})" if keep else "-")
    return f"| {name} | {method} | " + " | ".join(cells) + " |"


def main() -> None:
    from stance.annotation.holders import attribute

    print("| set | method | all | gold attributed | gold author |")
    print("|---|---|---|---|---|")
    seed = read(SEED)
    articles = {r["document"]: (ROOT / "seeds" / f"{r['document']}.txt").read_text(encoding="utf-8") for r in seed}
    gold, groups = [r["holder"] for r in seed], [r["document"] for r in seed]
    with_context = [attribute(r["text"], articles[r["document"]][: r["start"]]).holder for r in seed]
    print(row("seed gold (100, 5 articles)", "attribute, article context", with_context, gold, groups))
    print(row("seed gold (100, 5 articles)", "attribute, statement alone", [attribute(r["text"]).holder for r in seed],
              gold, groups))
    print(row("seed gold (100, 5 articles)", "earlier heuristic", [baseline(r["text"]) for r in seed], gold, groups))
    written = [r for r in read(WRITTEN) if r.get("holder")]
    gold, groups = [r["holder"] for r in written], [r["document"] for r in written]
    print(row(f"written ({len(written)})", "attribute", [attribute(r["text"]).holder for r in written], gold, groups))
    print(row(f"written ({len(written)})", "earlier heuristic", [baseline(r["text"]) for r in written], gold, groups))
    if not DEV.is_file():
        print(f"\ndev set skipped: {DEV} is not there", file=sys.stderr)
        return
    dev = read(DEV)
    gold, groups = [r["holder"] for r in dev], [r["url"] for r in dev]
    name = f"dev set ({len(dev)}, {len(set(groups))} pages)"
    print(row(name, "attribute", [attribute(r["text"]).holder for r in dev], gold, groups))
    print(row(name, "earlier heuristic", [baseline(r["text"]) for r in dev], gold, groups))


if __name__ == "__main__":
    main()
