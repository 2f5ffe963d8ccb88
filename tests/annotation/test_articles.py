"""What ``stance corpus add`` accepts and how it keeps the seeds' index whole: size and file-kind
limits checked before reading, line-safe index records, one number per article under a lock."""

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stance.annotation.articles import LOCK, MAX_BYTES, add_article, read_article, read_index
from stance.errors import StanceError

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"
STANCE = str(Path(sys.executable).with_name("stance"))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tiny_seeds, tmp_path):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:  # sparse: 200 MB of NUL bytes that take no disk
        handle.truncate(200 * 1024 * 1024)
    before = snapshot(tiny_seeds)
    started = time.monotonic()
    # NUL bytes would say "binary" if the file were read: the size is what refuses it
    with pytest.raises(StanceError, match=rf"huge\.txt: 209715200 bytes, more than {MAX_BYTES} bytes, the limit"):
        add_article(huge, tiny_seeds, tmp_path / "pending")
    assert time.monotonic() - started < 2 and snapshot(tiny_seeds) == before


def test_the_size_limit_is_configurable(tmp_path, monkeypatch):
    article = tmp_path / "a.txt"
    article.write_text("Sweden said it was ready to send troops.\n")
    with pytest.raises(StanceError, match=r"a\.txt: 41 bytes, more than 10 bytes"):
        read_article(article, max_bytes=10)
    monkeypatch.setenv("STANCE_MAX_ARTICLE_BYTES", "10")
    with pytest.raises(StanceError, match="more than 10 bytes"):
        read_article(article)
    assert read_article(article, max_bytes=41).startswith("Sweden")
    monkeypatch.setenv("STANCE_MAX_ARTICLE_BYTES", "2MB")
    with pytest.raises(StanceError, match="STANCE_MAX_ARTICLE_BYTES='2MB' is not a positive whole number"):
        read_article(article)


def test_a_file_that_reports_no_size_is_still_bounded(tmp_path):
    # /proc files report size 0 and are read until they end: the read stops at the limit
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("no /proc")
    with pytest.raises(StanceError, match=r"status: more than 16 bytes, the limit"):
        read_article(status, max_bytes=16)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_non_regular_file_is_refused_without_opening_it(tmp_path, kind):
    path = tmp_path / "article.txt"
    path.mkdir() if kind == "folder" else os.mkfifo(path)  # opening a FIFO would wait forever
    with pytest.raises(StanceError, match=r"article\.txt: not a regular file"):
        read_article(path)


def test_an_index_line_is_one_record_whatever_the_file_name(tiny_seeds, tmp_path):
    odd = tmp_path / "line\u2028break\x85and\u2029more.txt"
    odd.write_bytes(ARTICLE.read_bytes())
    add_article(odd, tiny_seeds, tmp_path / "pending")
    other = tmp_path / "second.txt"
    other.write_text("Norway said it would send troops to Ukraine.\n")
    add_article(other, tiny_seeds, tmp_path / "pending")
    text = (tiny_seeds / "articles.jsonl").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 2
    assert [entry["source"] for entry in read_index(tiny_seeds)] == [odd.name, "second.txt"]


def test_a_corpus_add_waits_for_the_lock(tiny_seeds, tmp_path):
    with open(tiny_seeds / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([STANCE, "corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds),
                                 "--pending", str(tmp_path / "pending")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(4)  # ample time to start and reach the lock
            assert proc.poll() is None and not (tiny_seeds / "articles.jsonl").exists()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert [entry["document"][:4] for entry in read_index(tiny_seeds)] == ["000_"]


def test_two_corpus_adds_at_once_take_different_numbers(tiny_seeds, tmp_path):
    second = tmp_path / "second.txt"
    second.write_text("Norway said it would send troops to Ukraine.\n\nMoscow warned against it.\n")
    procs = [subprocess.Popen([STANCE, "corpus", "add", str(path), "--articles", str(tiny_seeds),
                               "--pending", str(tmp_path / "pending")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for path in (ARTICLE, second)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in results]
    lines = (tiny_seeds / "articles.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 3
    documents = [json.loads(line)["document"] for line in lines[:2]]
    assert sorted(d[:3] for d in documents) == ["000", "001"]
    assert sorted(p.stem for p in tiny_seeds.glob("0*.txt")) == sorted(documents)
    assert sorted(p.stem for p in (tmp_path / "pending").glob("*.jsonl")) == sorted(documents)
