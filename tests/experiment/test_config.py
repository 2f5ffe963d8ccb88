"""The real conf/ composes with Hydra, and each data config instantiates a corpus."""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from stance.labels import LABELS

CONF = Path(__file__).resolve().parents[2] / "conf"
DATA_CONFIGS = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))


def compose_data(name, overrides=()):
    with initialize_config_dir(config_dir=str(CONF / "data"), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def test_every_data_config_is_listed():
    assert DATA_CONFIGS == ["foreign_troops", "table", "tweeteval"]


def test_foreign_troops_config(root):
    from stance.experiment.config import compose

    dd = instantiate(compose([f"paths.root={root}"]).data)
    assert dd["train"].features["label"].names == list(LABELS)


def test_tweeteval_config(tiny_tweeteval):
    from stance.experiment.config import compose

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

    from stance.experiment.config import compose

    cfg = compose([f"paths.root={root}"])
    assert OmegaConf.get_type(cfg.model).__name__ == "ModelSchema"
    assert cfg.model.name == "tfidf_logreg" and cfg.eval.splitter._target_ == "stance.data.ArticleKFold"
    assert cfg.tracking.uri.startswith(("sqlite:///", "http")) or "MLFLOW_TRACKING_URI" in __import__("os").environ


def test_every_model_config_names_a_class_of_the_zoo(root):
    import importlib

    from stance.experiment.config import compose
    from stance.models import StanceClassifier

    for path in sorted((CONF / "model").glob("*.yaml")):
        node = compose([f"model={path.stem}"]).model  # as composed: a config may extend another
        assert node.name == path.stem
        module, _, name = node.estimator._target_.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), StanceClassifier)


def test_typos_fail_at_composition(root):
    from hydra.errors import ConfigCompositionException

    from stance.experiment.config import compose

    with pytest.raises(ConfigCompositionException, match="nmae"):
        compose(["model.nmae=x"])
    with pytest.raises(ConfigCompositionException, match="Error merging override eval.n_bootstrap=lots") as info:
        compose(["eval.n_bootstrap=lots"])
    assert "could not be converted to Integer" in str(info.value.__cause__)


def test_model_pretrained_reaches_the_estimator(root):
    from stance.experiment.config import compose
    from stance.experiment.estimators import make_estimator

    for model in ("finetune", "setfit", "embed_logreg"):
        cfg = compose([f"paths.root={root}", f"model={model}", "model.pretrained=/models/roberta-base"])
        assert make_estimator(cfg).pretrained == "/models/roberta-base"
        # the default backbone: all-mpnet-base-v2; backbone=minilm is the packaged MiniLM (None)
        assert make_estimator(compose([f"paths.root={root}", f"model={model}"])).pretrained == "packaged:all-mpnet-base-v2"
        assert make_estimator(compose([f"paths.root={root}", f"model={model}", "backbone=minilm"])).pretrained is None


@pytest.mark.parametrize("overrides, message", [
    (["model.estimator.C=abc"], "model.estimator.C: expected a number, got 'abc' (stance.models.TfidfClassifier)"),
    (["+model.estimator.Cc=1"], "model.estimator.Cc: stance.models.TfidfClassifier has no parameter 'Cc' (it takes: "
                                "classifier, word_ngrams, char_ngrams"),
    (["model.estimator.word_ngrams=[1,2,3]"], "model.estimator.word_ngrams: expected a list of 2 integers"),
    (["model.estimator.use_target=maybe"], "model.estimator.use_target: expected true or false, got 'maybe'"),
    (["model.estimator.class_weight=3"], "model.estimator.class_weight: expected a string or null, got 3"),
    (["model.estimator._target_=stance.models.Nope"], "model.estimator._target_: cannot import the class "
                                                      "'stance.models.Nope'"),
    (["model=stacking", "model.estimator.members.tfidf_logreg.C=x"],
     "model.estimator.members.tfidf_logreg.C: expected a number, got 'x'"),
    (["model=calibrated_tfidf_embed_svm", "+model.estimator.member.C=[1]"], "model.estimator.member.C: expected"),
    (["model=finetune", "model.debug.max_steps=one"], "model.debug.max_steps: expected an integer, got 'one'"),
])
def test_estimator_parameters_are_checked_against_the_class_at_composition(root, overrides, message):
    from stance.experiment.config import compose
    from stance.experiment.params import ParameterError

    with pytest.raises(ParameterError, match=re.escape(message)):
        compose([f"paths.root={root}", *overrides])


def test_every_model_config_passes_the_parameter_check(root):
    from stance.experiment.config import compose

    for path in sorted((CONF / "model").glob("*.yaml")):
        cfg = compose([f"paths.root={root}", f"model={path.stem}", "debug=true"])
        assert cfg.model.name == path.stem


def test_sweep_jobs_expand_like_the_basic_sweeper():
    from stance.experiment.params import sweep_jobs

    jobs = sweep_jobs(["model=a,b", "seed=1", "hydra.job.chdir=true"], {"model.estimator.C": "0.1,1", "eval": "x"})
    assert jobs == [[f"model.estimator.C={c}", "eval=x", f"model={m}", "seed=1"] for c in ("0.1", "1") for m in "ab"]
    assert sweep_jobs(["model.estimator.C=interval(0.1,10)", "seed=1"]) == [["seed=1"]]  # ranges: checked per job
    assert sweep_jobs([f"seed={','.join(map(str, range(300)))}"]) is None  # too many to check up front
