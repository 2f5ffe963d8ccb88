"""The real conf/ composes with Hydra, and each data config instantiates a corpus."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from stance.labels import LABELS

CONF = Path(__file__).resolve().parents[1] / "conf"
DATA_CONFIGS = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))


def compose_data(name, overrides=()):
    with initialize_config_dir(config_dir=str(CONF / "data"), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def test_every_data_config_is_listed():
    assert DATA_CONFIGS == ["foreign_troops", "table", "tweeteval"]


def test_foreign_troops_config(root, monkeypatch):
    monkeypatch.chdir(root)
    dd = instantiate(compose_data("foreign_troops"))
    assert dd["train"].features["label"].names == list(LABELS)


def test_tweeteval_config(tiny_tweeteval):
    dd = instantiate(compose_data("tweeteval", [f"path={tiny_tweeteval}", "targets=[climate]"]))
    assert set(dd["train"]["target"]) == {"climate"}


def test_table_config_maps_labels_and_requires_a_path(tmp_path):
    cfg = compose_data("table")
    with pytest.raises(Exception, match="path"):
        OmegaConf.to_container(cfg, throw_on_missing=True)
    path = tmp_path / "c.csv"
    path.write_text("text,label\nyes,FAVOR\nno,against\n")
    dd = instantiate(compose_data("table", [f"path={path}", "target=troops", "+label_map.maybe=neutral"]))
    assert [LABELS[i] for i in dd["train"]["label"]] == ["support", "oppose"]
