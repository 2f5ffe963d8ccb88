"""Reduced-precision copies are checked against fp32 right after the export: a faithful copy is
kept, a copy whose vectors stray is deleted and the reason recorded and shown."""

import json
import logging
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from stance.serving.onnx.copies import MIN_COSINE, PROBES, keep_faithful_copies
from stance.serving.onnx.export import encoder_folder
from stance.serving.onnx.inference import OnnxEncoder


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """The packaged MiniLM, exported as the lean path exports it."""
    return encoder_folder(None, tmp_path_factory.mktemp("lean-cache"))


@pytest.mark.slow
def test_the_packaged_encoder_keeps_both_copies_and_they_stay_close(minilm):
    info = json.loads((minilm / "encoder.json").read_text())
    assert info["dropped"] == {} and (minilm / "model.w8.onnx").is_file() and (minilm / "model.int8.onnx").is_file()
    reference = OnnxEncoder(minilm, "fp32").encode(list(PROBES))
    for precision in ("w8", "int8"):
        vectors = OnnxEncoder(minilm, precision).encode(list(PROBES))
        assert ((vectors * reference).sum(1) >= MIN_COSINE).all()


@pytest.mark.slow
def test_a_copy_whose_vectors_stray_is_deleted_with_its_reason(minilm, tmp_path, caplog):
    folder = tmp_path / "encoder"
    shutil.copytree(minilm, folder)
    graph = onnx.load(str(folder / "model.onnx"))
    largest = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)) if t.data_type == 1 else 0)
    values = numpy_helper.to_array(largest)
    scrambled = np.random.default_rng(0).permutation(values.ravel()).reshape(values.shape)
    largest.CopyFrom(numpy_helper.from_array(scrambled, largest.name))  # a copy that computes something else
    onnx.save(graph, str(folder / "model.int8.onnx"))
    dropped = keep_faithful_copies(folder, {"w8": "model.w8.onnx", "int8": "model.int8.onnx"})
    assert list(dropped) == ["int8"] and "cosine to fp32's vectors" in dropped["int8"]
    assert not (folder / "model.int8.onnx").exists() and (folder / "model.w8.onnx").is_file()
    info = json.loads((folder / "encoder.json").read_text())
    (folder / "encoder.json").write_text(json.dumps({**info, "dropped": dropped}))
    with caplog.at_level(logging.WARNING, logger="stance.serving.predict"):
        encoder = OnnxEncoder(folder, "int8")
    assert encoder.precision == "fp32"
    assert [r.getMessage() for r in caplog.records] == [
        f"no int8 copy of this sentence encoder ({dropped['int8']}): predicting in fp32"]
