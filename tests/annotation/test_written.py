"""The statements the project wrote (annotations/written/): they load through the same data
layer, validate like the seeds, train models and are never tested on."""

import difflib
import json
from collections import Counter

import numpy as np
import pytest

from stance.annotation.passes import adjudicate, read_records, validate_file
from stance.data import ArticleKFold, FixedSplits, StratifiedStatementKFold, load_corpus
from stance.data.dedup import near_duplicate_pairs
from stance.data.loaders import stratified_sample
from stance.errors import StanceError

WRITTEN = "annotations/written"
FIRST_BATCHES = {f"written-{b}" for b in "abcde"}
HARD_BATCHES = {f"written-{b}" for b in "fghi"}  # neutral about the troops, minimal contrasts, long reporting


@pytest.fixture
def both(root):
    return load_corpus([root / "annotations/gold.jsonl", root / f"{WRITTEN}/gold.jsonl"])


def test_written_source_validates_and_is_balanced(root):
    for path in [root / f"{WRITTEN}/gold.jsonl", *sorted((root / WRITTEN / "passes").glob("*.jsonl"))]:
        assert validate_file(path, root / "seeds") == [], path
    gold = read_records(root / f"{WRITTEN}/gold.jsonl")
    assert len(gold) >= 1000
    assert {r["origin"] for r in gold} == {"written"} and all("start" not in r for r in gold)
    first = [r for r in gold if r["document"] in FIRST_BATCHES]  # about a third of each label
    counts = Counter(r["label"] for r in first)
    assert len(first) >= 600 and max(counts.values()) < 1.2 * min(counts.values())
    hard = [r for r in gold if r["document"] in HARD_BATCHES]  # half neutral by design: the hardest class
    counts = Counter(r["label"] for r in hard)
    assert len(hard) >= 400 and 0.45 < counts["neutral"] / len(hard) < 0.55
    assert abs(counts["support"] - counts["oppose"]) < 0.05 * len(hard)
    assert len({r["document"] for r in gold}) >= 9  # independent writing batches


def test_minimal_contrasts_are_triples_of_the_three_labels(root):
    triples: dict[str, list[str]] = {}
    for r in read_records(root / f"{WRITTEN}/gold.jsonl"):
        if r.get("contrast"):
            triples.setdefault(r["contrast"], []).append(r["label"])
    assert len(triples) >= 40
    # a member dropped as a near-duplicate of another statement leaves a pair
    assert all(len(set(labels)) == len(labels) >= 2 for labels in triples.values())
    assert sum(len(labels) == 3 for labels in triples.values()) >= 40


def test_written_statements_are_not_near_duplicates_of_each_other_or_of_the_seeds(root):
    seeds = read_records(root / "annotations/gold.jsonl")
    records = seeds + read_records(root / f"{WRITTEN}/gold.jsonl")
    texts = [r["text"] for r in records]

    def contrast(k):  # the members of one minimal contrast differ in a few words by design
        return records[k].get("contrast")

    close = [(texts[i], texts[j]) for i, j, _ in near_duplicate_pairs(texts, 0.5) if j >= len(seeds)
             and difflib.SequenceMatcher(None, texts[i].lower(), texts[j].lower()).ratio() >= 0.6
             and not (contrast(i) and contrast(i) == contrast(j))]
    assert close == []


def test_written_records_load_with_their_origin(root, both):
    written = load_corpus(root / f"{WRITTEN}/gold.jsonl")["train"]
    assert set(written["origin"]) == {"written"}
    assert Counter(both["train"]["origin"]) == {"article": 100, "written": len(written)}


@pytest.mark.parametrize("splitter", [ArticleKFold(), StratifiedStatementKFold(n_splits=5, seed=3)],
                         ids=["article_kfold", "stratified"])
def test_written_statements_are_never_in_a_test_fold(both, splitter):
    folds = splitter.split(both)
    n_written = Counter(both["train"]["origin"])["written"]
    assert sorted(i for f in folds for i in f.test["id"]) == sorted(
        i for i, o in zip(both["train"]["id"], both["train"]["origin"]) if o != "written")
    for fold in folds:
        assert "written" not in set(fold.test["origin"])
        assert Counter(fold.train["origin"])["written"] == n_written


def test_fixed_splits_drop_written_statements_from_test(both):
    from datasets import DatasetDict

    data = DatasetDict({"train": both["train"].select(range(50)), "test": both["train"]})
    [fold] = FixedSplits(validation=None).split(data)
    assert set(fold.test["origin"]) == {"article"} and len(fold.test) == 100


def test_stratified_sample_is_nested_stratified_and_seeded(root):
    written = load_corpus(root / f"{WRITTEN}/gold.jsonl")["train"]
    small, large = stratified_sample(written, 90, seed=1), stratified_sample(written, 180, seed=1)
    assert len(small) == 90 and set(small["id"]) <= set(large["id"])
    shares = {label: n / len(written) for label, n in Counter(written["label"]).items()}
    assert all(abs(n - 90 * shares[label]) <= 1 for label, n in Counter(small["label"]).items())  # in proportion
    assert stratified_sample(written, 90, seed=1)["id"] == small["id"]
    assert stratified_sample(written, 90, seed=2)["id"] != small["id"]
    assert len(stratified_sample(written, 0)) == 0 and len(stratified_sample(written, 10**6)) == len(written)


def test_groups_keep_batches_and_name_unknown_ones(root):
    batch = load_corpus(root / f"{WRITTEN}/gold.jsonl", groups=["written-c"])["train"]
    assert set(batch["group"]) == {"written-c"} and len(batch) > 100
    with pytest.raises(StanceError, match="no statements of group.*written-z"):
        load_corpus(root / f"{WRITTEN}/gold.jsonl", groups=["written-z"])


def test_written_record_with_a_span_or_an_unknown_origin_is_reported(root, tmp_path):
    records = read_records(root / f"{WRITTEN}/gold.jsonl")[:3]
    records[0] = dict(records[0], start=0, end=5)
    records[1] = dict(records[1], origin="invented")
    records[2] = dict(records[2], id="another", text=records[0]["text"])
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reasons = {}
    for problem in validate_file(path, root / "seeds"):
        reasons.setdefault(problem.line, []).append(problem.reason)
    assert "field 'start': a written statement has no span" in reasons[1]
    assert "unknown origin 'invented' (expected one of article, written)" in reasons[2]
    assert reasons[3] == ["duplicate statement: same text as line 1"]


def test_training_with_written_statements_tests_only_articles(make_cfg, root):
    from stance.experiment.engine import train

    result = train(make_cfg("model=tfidf_logreg", "extra_train=written", "extra_train.sample=60"))
    written_ids = set(load_corpus(root / f"{WRITTEN}/gold.jsonl")["train"]["id"])
    assert not written_ids & set(result.predictions["id"])
    assert all(f["n_extra"] == 60 for f in result.folds)
    assert result.metrics["n_extra_mean"] == 60


def test_corrections_change_labels_and_keep_a_note(root, tmp_path):
    a = read_records(root / "annotations/passes/annotator-a.jsonl")
    b = read_records(root / "annotations/passes/annotator-b.jsonl")
    target = next(r for r in a if r["label"] == "neutral")
    sheet = tmp_path / "corrections.csv"
    sheet.write_text(f'id,label,holder,note\n{target["id"]},oppose,Someone,"re-read: rule 5"\n', encoding="utf-8")
    gold = {r["id"]: r for r in adjudicate(a, b, root / "annotations/adjudication.csv", sheet)}
    assert gold[target["id"]]["label"] == "oppose"
    assert gold[target["id"]]["correction"] == "was neutral: re-read: rule 5"
    assert sum("correction" in r for r in gold.values()) == 1
    sheet.write_text("id,label,holder,note\nnope,oppose,X,y\n", encoding="utf-8")
    with pytest.raises(StanceError, match="correction for unknown statement 'nope'"):
        adjudicate(a, b, root / "annotations/adjudication.csv", sheet)


def test_audit_flags_a_planted_label_error():
    from stance.annotation.audit import label_issues, out_of_fold_probabilities
    from stance.models import TfidfClassifier

    texts = [f"Country {k} is ready to send troops to Ukraine." for k in range(12)]
    texts += [f"Country {k} rejects any foreign troops in Ukraine as unacceptable." for k in range(12)]
    texts += [f"Talks on sanctions continued in city {k}." for k in range(12)]
    labels = ["support"] * 12 + ["oppose"] * 12 + ["neutral"] * 12
    labels[3] = "oppose"  # a support statement labelled oppose
    records = [{"id": str(k), "document": "d", "holder": "h", "label": lab, "text": t}
               for k, (t, lab) in enumerate(zip(texts, labels))]
    proba = out_of_fold_probabilities(texts, ["t"] * len(texts), labels,
                                      lambda: TfidfClassifier(C=10.0, use_target=False), n_splits=4, seed=0)
    assert np.allclose(proba.sum(axis=1), 1)
    issues = label_issues(records, proba)
    assert issues.iloc[0]["id"] == "3" and issues.iloc[0]["suggested"] == "support"
    assert len(issues) <= 3
