import json
import re

import pytest

from stance.data import load_annotations, load_corpus, load_table, load_tweeteval
from stance.errors import StanceError
from stance.labels import LABELS

COLUMNS = {"id", "text", "target", "label", "group", "holder", "origin"}


def test_annotations_load_with_a_classlabel(tiny_gold):
    dd = load_annotations(tiny_gold)
    assert list(dd) == ["train"]
    ds = dd["train"]
    assert set(ds.column_names) == COLUMNS
    assert ds.features["label"].names == list(LABELS)
    gold = [json.loads(line) for line in tiny_gold.read_text().splitlines()]
    assert ds["id"] == [g["id"] for g in gold]
    assert ds["group"] == [g["document"] for g in gold]
    assert [LABELS[i] for i in ds["label"]] == [g["label"] for g in gold]


def test_the_seed_corpus_loads(root):
    ds = load_corpus(root / "annotations/gold.jsonl")["train"]
    assert len(ds) == len((root / "annotations/gold.jsonl").read_text().splitlines())
    assert len(set(ds["group"])) == 5


def test_csv_with_a_label_map(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_text('text,stance,doc\n"Send, the troops",PRO,d1\nNo troops,anti,d2\nWeather,other,d2\n')
    ds = load_corpus(path, text_column="text", label_column="stance", group_column="doc", target="troops",
                     label_map={"pro": "support", "anti": "oppose", "other": "neutral"})["train"]
    assert ds["text"] == ["Send, the troops", "No troops", "Weather"]
    assert [LABELS[i] for i in ds["label"]] == ["support", "oppose", "neutral"]
    assert ds["group"] == ["d1", "d2", "d2"] and set(ds["target"]) == {"troops"}
    assert ds["id"] == ["corpus:2", "corpus:3", "corpus:4"]


def test_jsonl_table_with_target_and_split_columns(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [{"text": "a", "label": "favor", "t": "x", "s": "train"},
            {"text": "b", "label": "against", "t": "y", "s": "test"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dd = load_table(path, target_column="t", split_column="s",
                    label_map={"favor": "support", "against": "oppose"})
    assert sorted(dd) == ["test", "train"]
    assert dd["test"]["target"] == ["y"] and dd["test"]["label"] == [LABELS.index("oppose")]


@pytest.mark.parametrize(
    "content, options, message",
    [
        ("text,label\nhello,maybe\n", {"target": "t"}, r"corpus\.csv:2: unknown label 'maybe'"),
        ("body,label\nhello,support\n", {"target": "t"}, r"corpus\.csv: missing column 'text'"),
        ("text,label\nhello,support\n", {}, "no target"),
        ("text,label\n,support\n", {"target": "t"}, r"corpus\.csv:2: empty or missing 'text'"),
    ],
)
def test_table_errors_name_the_problem(tmp_path, content, options, message):
    path = tmp_path / "corpus.csv"
    path.write_text(content)
    with pytest.raises(StanceError, match=message):
        load_table(path, **options)


def test_label_map_into_an_unknown_label_is_an_error(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_text("text,label\nhello,pro\n")
    with pytest.raises(StanceError, match="sends 'pro' to 'favour'"):
        load_table(path, target="t", label_map={"pro": "favour"})


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(StanceError, match=r"nope\.csv: corpus not found"):
        load_corpus(tmp_path / "nope.csv")
    (tmp_path / "x.csv").write_text("text,label\n")
    with pytest.raises(StanceError, match="unknown corpus format 'xml'"):
        load_corpus(tmp_path / "x.csv", format="xml")


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\nok,support\ncaf\xe9,neutral\n".encode("latin-1"))
    with pytest.raises(StanceError, match=r"latin1\.csv:3: not valid UTF-8"):
        load_table(path, target="t")


def test_tweeteval_layout(tiny_tweeteval):
    dd = load_tweeteval(tiny_tweeteval)
    assert list(dd) == ["train", "validation", "test"]
    assert [len(dd[s]) for s in dd] == [6, 2, 4]
    train = dd["train"]
    assert train["target"][:3] == ["abortion"] * 3 and train["target"][3:] == ["climate"] * 3
    # 0 none -> neutral, 1 against -> oppose, 2 favor -> support
    assert [LABELS[i] for i in train["label"][:3]] == ["neutral", "oppose", "support"]
    assert train["text"][0] == "abortion tweet 0"
    assert len(load_tweeteval(tiny_tweeteval, targets=["climate"])["test"]) == 2


def test_tweeteval_errors(tmp_path, tiny_tweeteval):
    with pytest.raises(StanceError, match="TweetEval stance folder not found"):
        load_tweeteval(tmp_path / "absent")
    with pytest.raises(StanceError, match="unknown target 'hillary'"):
        load_tweeteval(tiny_tweeteval, targets=["hillary"])
    (tiny_tweeteval / "climate/test_labels.txt").write_text("0\n")
    with pytest.raises(StanceError, match="2 tweets but 1 labels"):
        load_tweeteval(tiny_tweeteval)


def test_the_shared_tweeteval_benchmark_has_its_published_sizes(shared):
    dd = load_corpus(shared / "data/tweeteval-stance")
    assert {s: len(dd[s]) for s in dd} == {"train": 2620, "validation": 294, "test": 1249}
    assert sorted(set(dd["test"]["target"])) == ["abortion", "atheism", "climate", "feminist", "hillary"]


# ----------------------------------------------------------------------------- duplicate ids
def test_a_duplicate_id_fails_before_training_naming_both_lines(tiny_gold, tmp_path, make_cfg):
    lines = tiny_gold.read_text().splitlines()
    twin = json.loads(lines[4])
    twin["id"] = json.loads(lines[1])["id"]
    lines[4] = json.dumps(twin)
    bad = tmp_path / "bad_gold.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(StanceError, match=rf"bad_gold\.jsonl:5: duplicate id '{re.escape(twin['id'])}' \(also on line 2\)"):
        load_corpus(bad)
    from stance.experiment.engine import train

    with pytest.raises(StanceError, match="duplicate id"):
        train(make_cfg(f"data.path={bad}", "model=majority"))
    import sqlite3

    for db in make_cfg.store.rglob("*.db"):  # the store may exist, but no run was started
        tables = {row[0] for row in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
        assert "runs" not in tables or sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_duplicate_ids_in_a_table_and_across_files(tmp_path, tiny_gold):
    (tmp_path / "t.csv").write_text("id,text,label\na,One.,support\nb,Two.,oppose\na,Three.,neutral\n")
    with pytest.raises(StanceError, match=r"t\.csv:4: duplicate id 'a' \(also on line 2\)"):
        load_corpus(tmp_path / "t.csv", id_column="id", target="t")
    copy = tmp_path / "copy.jsonl"
    copy.write_text(tiny_gold.read_text().splitlines()[0] + "\n")
    with pytest.raises(StanceError, match=rf"copy\.jsonl: duplicate id '.*': also in .*{tiny_gold.name}"):
        load_corpus([tiny_gold, copy])
