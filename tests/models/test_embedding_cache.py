"""The on-disk embedding cache: each text encoded once per encoder, device kind and precision,
across processes; a changed encoder gets other keys; a cache that cannot be used is skipped."""

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from stance.models import embedding_cache as ec
from stance.models.encoders import packaged_model_path

TEXTS = ["Troops must stay out of Ukraine.", "Paris is ready to send soldiers.", "The vote is on Tuesday."]

# a fresh interpreter: embeds TEXTS, prints the vectors and whether it had to load the encoder
PROBE = ("import json, sys; import stance.models.encoders as e; v = e.embed(None, json.loads(sys.argv[1]), device='cpu'); "
         "print(json.dumps({'loaded': e.sentence_encoder.cache_info().currsize, 'v': v.tolist()}))")


def _embed_in_new_process(texts, env):
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(texts)], capture_output=True, text=True,
                         env=env, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.mark.slow
def test_a_second_process_reads_every_vector_from_disk_without_loading_the_encoder(tmp_path):
    env = {**os.environ, "STANCE_EMBEDDING_CACHE": str(tmp_path / "cache")}
    first, _ = _embed_in_new_process(TEXTS, env)
    second, _ = _embed_in_new_process(TEXTS[::-1], env)
    assert first["loaded"] == 1 and second["loaded"] == 0
    assert np.array_equal(np.array(first["v"]), np.array(second["v"])[::-1])
    # one new text: only it is encoded, the others come from disk
    third, _ = _embed_in_new_process([*TEXTS, "A fourth statement."], env)
    assert third["loaded"] == 1 and np.array_equal(np.array(third["v"])[:3], np.array(first["v"]))
    (store,) = (tmp_path / "cache").glob("*-cpu-fp32.sqlite")
    with sqlite3.connect(store) as connection:
        assert connection.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 4


@pytest.mark.slow
def test_switched_off_or_unwritable_the_vectors_are_still_computed(tmp_path):
    off, _ = _embed_in_new_process(TEXTS, {**os.environ, "STANCE_EMBEDDING_CACHE": "off"})
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    skipped, stderr = _embed_in_new_process(TEXTS, {**os.environ, "STANCE_EMBEDDING_CACHE": str(blocked)})
    assert off["loaded"] == 1 and skipped["loaded"] == 1
    assert np.allclose(np.array(off["v"]), np.array(skipped["v"]), atol=1e-6)
    assert "embedding cache" in stderr and "not used" in stderr


def test_a_damaged_cache_file_is_skipped_with_one_warning(tmp_path, caplog):
    cache = ec.EmbeddingCache(tmp_path, "0" * 64, "cpu")
    tmp_path.mkdir(exist_ok=True)
    cache.path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level("WARNING", logger="stance"):
        assert cache.get(TEXTS) == {}
        cache.put({TEXTS[0]: np.ones(3, dtype=np.float32)})
    assert sum("embedding cache" in r.getMessage() for r in caplog.records) == 1


def test_vectors_round_trip_by_content_and_keys_separate_device_and_precision(tmp_path):
    cpu = ec.EmbeddingCache(tmp_path, "a" * 64, "cpu")
    vectors = {t: np.arange(4, dtype=np.float32) + i for i, t in enumerate(TEXTS)}
    cpu.put(vectors)
    got = cpu.get([*TEXTS, "never stored"])
    assert set(got) == set(TEXTS) and all(np.array_equal(got[t], vectors[t]) for t in TEXTS)
    cpu.put({TEXTS[0]: np.zeros(4, dtype=np.float32)})  # a text already there keeps its vector
    assert np.array_equal(cpu.get(TEXTS[:1])[TEXTS[0]], vectors[TEXTS[0]])
    assert ec.EmbeddingCache(tmp_path, "a" * 64, "cuda:1").get(TEXTS) == {}
    assert ec.EmbeddingCache(tmp_path, "a" * 64, "cpu", "bf16").get(TEXTS) == {}


def test_the_encoder_fingerprint_follows_the_files_content(tmp_path):
    model = tmp_path / "encoder"
    model.mkdir()
    (model / "config.json").write_text('{"hidden": 4}')
    (model / "weights.bin").write_bytes(b"\x01" * 1000)
    first = ec.encoder_fingerprint(model, remember=tmp_path / "notes")
    assert ec.encoder_fingerprint(model, remember=tmp_path / "notes") == first
    os.utime(model / "weights.bin", ns=(1, 1))  # a new stamp: hashed again, same content, same key
    assert ec.encoder_fingerprint(model, remember=tmp_path / "notes") == first
    (model / "weights.bin").write_bytes(b"\x02" * 1000)  # other weights: another key
    assert ec.encoder_fingerprint(model, remember=tmp_path / "notes") != first
    assert len(ec.encoder_fingerprint(packaged_model_path())) == 64
