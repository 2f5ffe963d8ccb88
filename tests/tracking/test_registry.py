"""Loading a logged model runs nothing the store holds: the estimator is read through skops with
trusted types, never MLflow's loader (which executes the model's code file from the store)."""

from pathlib import Path

import pytest

from stance.errors import StanceError
from stance.tracking.registry import load_model


def _model_folder(registered) -> Path:
    """The registered model's folder in the test store's artifacts."""
    found = [p.parent for p in Path(registered["home"], "artifacts").rglob("MLmodel")]
    mine = [f for f in found if registered["run_id"] in (f / "MLmodel").read_text()]
    assert len(mine) == 1, found
    return mine[0]


def test_a_code_file_planted_in_the_store_is_never_run(registered, tmp_path):
    entry = _model_folder(registered) / "pyfunc_entry.py"
    marker = tmp_path / "ran"
    original = entry.read_text()
    entry.write_text(f"open({str(marker)!r}, 'w').write('pwned')\n" + original)
    try:
        model = load_model(registered["model"], registered["uri"])
        predicted = model.predict([{"text": "Troops must never be sent.", "target": None}])
    finally:
        entry.write_text(original)
    assert not marker.exists()
    assert list(predicted.columns[:1]) == ["label"] and len(predicted) == 1


def test_a_pickled_estimator_in_the_store_is_refused_in_one_line(registered):
    folder = _model_folder(registered) / "artifacts" / "estimator"
    skops_file = next(folder.glob("estimator.skops"))
    saved = skops_file.read_bytes()
    skops_file.unlink()
    (folder / "estimator.joblib").write_bytes(b"\x80\x04K\x01.")  # any pickle
    try:
        with pytest.raises(StanceError, match=r"estimator\.joblib is a pickle") as caught:
            load_model(registered["model"], registered["uri"])
    finally:
        (folder / "estimator.joblib").unlink()
        skops_file.write_bytes(saved)
    assert "\n" not in str(caught.value)
