"""The lean cache is checked against what MLflow recorded, never against files beside it: a tampered
encoder, edited arrays with edited checksums or a broken manifest are found and rebuilt from the
logged model (one log line each), and reading a model leaves the store byte-identical."""

import hashlib
import io
import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from stance.serving.onnx.cache import artefact_dir, prepare
from stance.serving.onnx.export import ENCODER_CHECKSUMS, EXPORT, _encoder_problem, sha256
from stance.serving.onnx.lookup import recorded_checksums, resolve_ref
from stance.serving.predict import load, predict
from stance.tracking.registry import register

from tests.serving.test_lean import PROBA, corpus_texts, trained

CACHE_LOG = "stance.serving.onnx.cache"


def fresh_predict(model_uri, uri, **kwargs):
    load.cache_clear()
    return predict(corpus_texts(), model_uri, uri, **kwargs)


def warnings_of(caplog, logger=CACHE_LOG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= logging.WARNING]


@pytest.fixture
def built(registered):
    """The registered TF-IDF model with its lean artefact built and its checksums recorded."""
    model_uri, uri = registered["model"], registered["uri"]
    prepare(model_uri, uri)
    ref = resolve_ref(model_uri, uri)
    return {**registered, "ref": ref, "folder": artefact_dir(ref), "expected": fresh_predict(model_uri, uri)}


def test_building_records_the_checksums_in_mlflow(built):
    manifest = json.loads((built["folder"] / "manifest.json").read_text())
    recorded = recorded_checksums(built["ref"])
    assert recorded == manifest["files"] and {"spec.json", "arrays.npz"} <= set(recorded)
    assert recorded["arrays.npz"] == sha256(built["folder"] / "arrays.npz")


def test_edited_arrays_with_updated_manifest_checksums_are_rebuilt(built, caplog):
    folder = built["folder"]
    with np.load(folder / "arrays.npz") as stored:
        arrays = {name: stored[name] for name in stored.files}
    name = max((n for n in arrays if arrays[n].dtype.kind == "f"), key=lambda n: arrays[n].size)
    arrays[name] = arrays[name] * -3.0  # a plausible, loadable edit that changes the answers
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (folder / "arrays.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["arrays.npz"] = sha256(folder / "arrays.npz")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level("WARNING", logger=CACHE_LOG):
        rebuilt = fresh_predict(built["model"], built["uri"])
    assert warnings_of(caplog) == [f"lean artefact for {built['model']}: arrays.npz does not match its checksum; "
                                   "rebuilding it"]
    np.testing.assert_allclose(rebuilt[PROBA].to_numpy(), built["expected"][PROBA].to_numpy(), rtol=0, atol=1e-9)
    assert sha256(folder / "arrays.npz") == recorded_checksums(built["ref"])["arrays.npz"]


#: A manifest's start, as this version writes it (EXPORT and SOURCE are filled in by the test).
HEAD = "{\"format\": 1, \"export\": EXPORT, \"exportable\": true, \"source\": SOURCE"


@pytest.mark.parametrize("content, why", [
    (HEAD + ", \"files\": {}}", "the manifest lists no files"),
    (HEAD + "}", "the manifest lists no files"),
    (HEAD + ", \"files\": null}", "the manifest lists no files"),
    (HEAD + ", \"files\": {\"spec.json\": \"0\"}}",
     "the manifest does not match the checksums recorded in MLflow"),
    ("{\"source\": \"models:/elsewhere\"}", "malformed manifest"),
    ("[1, 2]", "malformed manifest"),
    ("{\"source\": ", "unreadable manifest"),
])
def test_a_broken_manifest_is_one_line_and_a_rebuild(built, caplog, content, why):
    manifest = built["folder"] / "manifest.json"
    source = json.dumps(json.loads(manifest.read_text())["source"])
    manifest.write_text(content.replace("SOURCE", source).replace("EXPORT", str(EXPORT)))
    with caplog.at_level("WARNING", logger=CACHE_LOG):
        rebuilt = fresh_predict(built["model"], built["uri"])
    assert warnings_of(caplog) == [f"lean artefact for {built['model']}: {why}; rebuilding it"]
    assert load(built["model"], built["uri"]).how == "lean fp32"
    np.testing.assert_allclose(rebuilt[PROBA].to_numpy(), built["expected"][PROBA].to_numpy(), rtol=0, atol=1e-9)
    assert json.loads(manifest.read_text())["files"] == recorded_checksums(built["ref"])


def test_an_artefact_from_an_earlier_export_is_rebuilt_with_its_8_bit_copies(built, caplog):
    manifest_path = built["folder"] / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["export"] == EXPORT
    del manifest["export"]  # as written before 8-bit weights existed
    manifest_path.write_text(json.dumps(manifest))
    with caplog.at_level("WARNING", logger=CACHE_LOG):
        rebuilt = fresh_predict(built["model"], built["uri"])
    assert warnings_of(caplog) == [f"lean artefact for {built['model']}: exported by an earlier version of stance; "
                                   "rebuilding it"]
    assert json.loads(manifest_path.read_text())["export"] == EXPORT
    np.testing.assert_allclose(rebuilt[PROBA].to_numpy(), built["expected"][PROBA].to_numpy(), rtol=0, atol=1e-9)


def test_an_encoder_exported_by_an_earlier_version_is_not_reused(tmp_path):
    files = {}
    for name, text in (("encoder.json", json.dumps({"dimension": 3})), ("model.onnx", "graph"),
                       ("tokenizer.json", "{}")):  # as written before reduced copies were checked
        (tmp_path / name).write_text(text)
        files[name] = sha256(tmp_path / name)
    (tmp_path / ENCODER_CHECKSUMS).write_text(json.dumps(files))
    assert _encoder_problem(tmp_path) == "it was exported by an earlier version"
    (tmp_path / "encoder.json").write_text(json.dumps({"dimension": 3, "export": EXPORT, "dropped": {}}))
    (tmp_path / ENCODER_CHECKSUMS).write_text(json.dumps({**files, "encoder.json": sha256(tmp_path / "encoder.json")}))
    assert _encoder_problem(tmp_path) is None


def test_a_broken_manifest_is_one_line_on_the_command_line(built):
    (built["folder"] / "manifest.json").write_text("{\"source\": ")
    load.cache_clear()
    result = CliRunner().invoke(main, ["predict", "-m", built["model"], "--tracking-uri", built["uri"], "-f", "csv",
                                       "Moscow rejects any troops."])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "Traceback" not in result.output
    assert json.loads((built["folder"] / "manifest.json").read_text())["files"] == recorded_checksums(built["ref"])


def store_files(home) -> dict[str, str]:
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file() and (p.name.startswith("mlflow.db")
                                                                  or "artifacts" in p.relative_to(home).parts)}


@pytest.mark.parametrize("how", [[], ["--mlflow"]], ids=["lean", "mlflow"])
def test_predict_leaves_the_store_byte_identical(built, how):
    before = store_files(built["home"])
    assert "mlflow.db" in before and any(name.endswith("MLmodel") for name in before)
    load.cache_clear()
    result = CliRunner().invoke(main, ["predict", "-m", built["model"], "--tracking-uri", built["uri"], "-f", "csv",
                                       *how, "Moscow rejects any troops.", "Paris will send soldiers."])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 3
    assert store_files(built["home"]) == before
    # MLflow's loader writes this file into the model folder it loads from: never the store's
    assert not [name for name in before if name.endswith("registered_model_meta")]


@pytest.mark.slow
def test_an_encoder_overwritten_in_place_is_found_and_rebuilt(make_cfg, caplog):
    uri, result = trained(make_cfg, "model=embed_logreg")
    version = register(uri, result.run_id, "lean-tampered", "champion")
    model_uri = f"models:/{version.name}@champion"
    prepare(model_uri, uri)
    ref = resolve_ref(model_uri, uri)
    folder = artefact_dir(ref)
    expected = fresh_predict(model_uri, uri)
    [onnx] = folder.glob("*/model.onnx")
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # zeroed weights: a model that still loads
    with onnx.open("r+b") as handle:  # in place: the same file as the shared encoders/<key> copy
        handle.write(bytes(data))
    assert sha256(onnx) != recorded_checksums(ref)[onnx.relative_to(folder).as_posix()]
    with caplog.at_level("INFO"):
        rebuilt = fresh_predict(model_uri, uri)
    name = onnx.relative_to(folder).as_posix()
    assert warnings_of(caplog) == [f"lean artefact for {model_uri}: {name} does not match its checksum; rebuilding it"]
    [again] = warnings_of(caplog, "stance.serving.onnx.export")
    assert "model.onnx does not match its checksum; exporting it again" in again
    assert load(model_uri, uri).how == "lean fp32"
    np.testing.assert_allclose(rebuilt[PROBA].to_numpy(), expected[PROBA].to_numpy(), rtol=0, atol=1e-6)
    assert sha256(folder / name) == recorded_checksums(ref)[name]
