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


def test_foreign_troops_config(root):
    from stance.config import compose

    dd = instantiate(compose([f"paths.root={root}"]).data)
    assert dd["train"].features["label"].names == list(LABELS)


def test_tweeteval_config(tiny_tweeteval):
    from stance.config import compose

    dd = instantiate(compose(["data=tweeteval", f"data.path={tiny_tweeteval}", "data.targets=[climate]"]).data)
    assert set(dd["train"]["target"]) == {"Climate Change is a Real Concern"}  # the SemEval target phrase


def test_table_config_maps_labels_and_requires_a_path(tmp_path):
    cfg = compose_data("table")
    with pytest.raises(Exception, match="path"):
        OmegaConf.to_container(cfg, throw_on_missing=True)
    path = tmp_path / "c.csv"
    path.write_text("text,label\nyes,FAVOR\nno,against\n")
    dd = instantiate(compose_data("table", [f"path={path}", "target=troops", "+label_map.maybe=neutral"]))
    assert [LABELS[i] for i in dd["train"]["label"]] == ["support", "oppose"]


def test_full_config_composes_with_the_schema(root):
    from omegaconf import OmegaConf

    from stance.config import compose

    cfg = compose([f"paths.root={root}"])
    assert OmegaConf.get_type(cfg.model).__name__ == "ModelSchema"
    assert cfg.model.name == "tfidf_logreg" and cfg.eval.splitter._target_ == "stance.data.ArticleKFold"
    assert cfg.tracking.uri.startswith(("sqlite:///", "http")) or "MLFLOW_TRACKING_URI" in __import__("os").environ


def test_every_model_config_names_a_class_of_the_zoo(root):
    import importlib

    from stance.models import StanceClassifier

    for path in sorted((CONF / "model").glob("*.yaml")):
        node = OmegaConf.load(path)
        assert node.name == path.stem
        module, _, name = node.estimator._target_.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), StanceClassifier)


def test_typos_fail_at_composition(root):
    from hydra.errors import ConfigCompositionException

    from stance.config import compose

    with pytest.raises(ConfigCompositionException, match="nmae"):
        compose(["model.nmae=x"])
    with pytest.raises(ConfigCompositionException, match="Error merging override eval.n_bootstrap=lots") as info:
        compose(["eval.n_bootstrap=lots"])
    assert "could not be converted to Integer" in str(info.value.__cause__)


def test_model_pretrained_reaches_the_estimator(root):
    from stance.config import compose
    from stance.engine import make_estimator

    for model in ("finetune", "setfit", "embed_logreg"):
        cfg = compose([f"paths.root={root}", f"model={model}", "model.pretrained=/models/roberta-base"])
        assert make_estimator(cfg).pretrained == "/models/roberta-base"
        assert make_estimator(compose([f"paths.root={root}", f"model={model}"])).pretrained is None
