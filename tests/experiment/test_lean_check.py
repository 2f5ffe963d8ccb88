"""The check printed after registration: each reduced-precision copy of the lean artefact against
fp32 on the external yardstick."""

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from sklearn.metrics import f1_score

from stance.evaluation import yardstick
from stance.experiment.lean_check import TOLERANCE, CopyCheck, check_copies, report
from stance.labels import FOREIGN_TROOPS_TARGET, LABELS
from stance.serving.predict import predict
from stance.tracking.registry import register

from tests.serving.test_lean import trained

ROOT = Path(__file__).resolve().parents[2]


def test_the_report_names_each_copy_and_warns_past_the_tolerance():
    kept = CopyCheck("w8", 0.8233, 0.8233, 0, 329)
    moved = CopyCheck("int8", 0.8233 - 2 * TOLERANCE, 0.8233, 7, 329)
    assert kept.keeps_labels and not moved.keeps_labels and math.isclose(moved.change, -2 * TOLERANCE)
    lines = report("dev", 0.8233, [kept, moved])
    assert lines[0] == ("lean copies on dev (329 statements): fp32 macro-F1 0.8233; w8 0.8233 (change +0.0000, "
                        "0 labels differ); int8 0.8133 (change -0.0100, 7 labels differ)")
    assert lines[1:] == [f"warning: the int8 copy changes macro-F1 by more than {TOLERANCE}: predict with "
                         "--precision fp32"]
    assert report("dev", float("nan"), []) == []


def gold_yardstick():
    node = OmegaConf.create({"name": "articles", "path": str(ROOT / "annotations/gold.jsonl"),
                             "group_column": "document"})
    found, why = yardstick.load(node, {FOREIGN_TROOPS_TARGET})
    assert found is not None, why
    return found


def test_a_model_without_graphs_has_no_copies_to_check(registered):
    base, checks = check_copies(registered["model"], registered["uri"], gold_yardstick().data)
    assert checks == [] and math.isnan(base)


@pytest.mark.slow
def test_each_copy_of_a_sentence_encoder_is_scored_on_the_same_statements(make_cfg):
    uri, result = trained(make_cfg, "model=embed_logreg")
    model_uri = f"models:/{register(uri, result.run_id, 'copies', 'champion').name}@champion"
    data = gold_yardstick().data
    base, checks = check_copies(model_uri, uri, data)
    assert [c.precision for c in checks] == ["w8", "int8"]
    names = data.features["label"].names
    gold = [names[code] for code in data["label"]]
    fp32 = predict(list(data["text"]), model_uri, uri, precision="fp32")["label"].tolist()
    assert math.isclose(base, f1_score(gold, fp32, labels=list(LABELS), average="macro", zero_division=0))
    for check in checks:
        labels = predict(list(data["text"]), model_uri, uri, precision=check.precision)["label"].tolist()
        assert check.statements == len(gold) == 100
        assert check.differing == sum(a != b for a, b in zip(fp32, labels))
        assert math.isclose(check.macro_f1, f1_score(gold, labels, labels=list(LABELS), average="macro",
                                                     zero_division=0))
