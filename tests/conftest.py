"""Shared fixtures: the project's real files and a tiny corpus built per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

TINY_ARTICLES = {
    "a_first": (
        "# Paris Ready to Send Troops\n\n"
        "By Jane Doe\n\n"
        "France said on Monday it was ready to send troops to Ukraine. "
        "\"We will not stand aside. Our soldiers can go,\" Dr. Martin said.\n\n"
        "Russia rejected the idea of European troops in Ukraine as unacceptable.\n\n"
        "Leave A Comment\n"
    ),
    "b_second": (
        "Moscow Says No\n"
        "The Kremlin warned that foreign forces in Ukraine would be a direct threat.\n"
        "\"We will not stand aside. Our soldiers can go,\" the French minister had said.\n"
        "Talks on a ceasefire continue in Riyadh.\n"
        "Original url:\n"
        "<https://example.org/b>\n"
    ),
    "c_third": (
        "Berlin Stays Out\n"
        "Germany said it would not send its own soldiers.\n"
        "The U.S. said sanctions would remain in place.\n"
    ),
}
#: Hand labels of the tiny corpus, by text (as a test annotator would write them).
TINY_LABELS = {
    "Paris Ready to Send Troops": ("support", "France"),
    "France said on Monday it was ready to send troops to Ukraine.": ("support", "France"),
    "\"We will not stand aside. Our soldiers can go,\" Dr. Martin said.": ("support", "Dr. Martin"),
    "Russia rejected the idea of European troops in Ukraine as unacceptable.": ("oppose", "Russia"),
    "Moscow Says No": ("oppose", "Russia"),
    "The Kremlin warned that foreign forces in Ukraine would be a direct threat.": ("oppose", "Kremlin"),
    "\"We will not stand aside. Our soldiers can go,\" the French minister had said.": ("support", "France"),
    "Talks on a ceasefire continue in Riyadh.": ("neutral", "author"),
    "Berlin Stays Out": ("neutral", "Germany"),
    "Germany said it would not send its own soldiers.": ("neutral", "Germany"),
    "The U.S. said sanctions would remain in place.": ("neutral", "United States"),
}


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.skip("the shared folder is not beside the project")
    return SHARED


@pytest.fixture
def tiny_seeds(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in TINY_ARTICLES.items():
        (seeds / f"{name}.txt").write_text(text, encoding="utf-8")
    return seeds


@pytest.fixture
def tiny_gold(tiny_seeds: Path) -> Path:
    """Annotation records for the tiny corpus, made through the real extraction."""
    from stance.annotation.corpus import extract

    records = []
    for statement in extract(tiny_seeds):
        label, holder = TINY_LABELS[statement["text"]]
        records.append({**statement, "label": label, "holder": holder, "annotator": "test",
                        "rationale": "fixture"})
    path = tiny_seeds.parent / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's seeds and annotations, for tests that run commands in place."""
    dest = tmp_path / "project"
    for name in ("seeds", "annotations"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


@pytest.fixture
def tiny_tweeteval(tmp_path: Path) -> Path:
    """A TweetEval-style folder: two targets, 3/1/2 tweets in train/val/test, labels 0,1,2,..."""
    root = tmp_path / "tweeteval"
    root.mkdir()
    (root / "mapping.txt").write_text("0\tnone\n1\tagainst\n2\tfavor")
    for target in ("abortion", "climate"):
        (root / target).mkdir()
        for split, n in {"train": 3, "val": 1, "test": 2}.items():
            (root / target / f"{split}_text.txt").write_text("".join(f"{target} tweet {i} \n" for i in range(n)))
            (root / target / f"{split}_labels.txt").write_text("".join(f"{i % 3}\n" for i in range(n)))
    return root


TINY_CORPUS = {
    "doc1": [
        ("France is ready to send troops to Ukraine after a ceasefire.", "support"),
        ("Paris backs a European reassurance force on the ground.", "support"),
        ("Moscow called any European deployment unacceptable.", "oppose"),
        ("The Kremlin warned that foreign soldiers would be a direct threat.", "oppose"),
        ("Talks on a ceasefire continued in Riyadh on Tuesday.", "neutral"),
        ("Officials discussed sanctions and energy prices.", "neutral"),
    ],
    "doc2": [
        ("Britain is willing to put boots on the ground in Ukraine.", "support"),
        ("London proposed a peacekeeping mission led by Europe.", "support"),
        ("Russia rejected the idea of NATO troops in Ukraine.", "oppose"),
        ("“We will never accept foreign forces near our border,” Lavrov said.", "oppose"),
        ("The summit was postponed until next month.", "neutral"),
        ("Weapons deliveries were delayed by bad weather.", "neutral"),
    ],
    "doc3": [
        ("Several countries pledged troops for a deterrence force.", "support"),
        ("The coalition plans to deploy brigades to Ukraine.", "support"),
        ("“We will never accept foreign forces near our border,” the minister repeated.", "oppose"),
        ("The Kremlin dismissed plans for peacekeepers as hostile.", "oppose"),
        ("Negotiators met again without a result.", "neutral"),
        ("Territory in the east remains contested.", "neutral"),
    ],
    "doc4": [
        ("Starmer said the UK would lead a reassurance force.", "support"),
        ("European leaders agreed to station troops after a deal.", "support"),
        ("Peskov said such a force would escalate the war.", "oppose"),
        ("Moscow will treat any foreign contingent as a legitimate target.", "oppose"),
        ("Ukraine's NATO membership was not discussed.", "neutral"),
        ("The talks will resume after the holidays.", "neutral"),
    ],
}


def write_tiny_corpus(path: Path) -> Path:
    """Annotation records of TINY_CORPUS (spans point into a virtual article: not validated)."""
    records = []
    for document, statements in TINY_CORPUS.items():
        offset = 0
        for k, (text, label) in enumerate(statements):
            records.append({"id": f"{document}:{k}", "document": document, "start": offset,
                            "end": offset + len(text), "text": text, "target": "foreign troops in Ukraine",
                            "label": label, "holder": "author", "annotator": "test", "rationale": "fixture"})
            offset += len(text) + 1
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


#: A tiny external yardstick: sentences of other "pages" (made up here, like TINY_CORPUS).
TINY_EXTERNAL = [
    ("p1", "Italy said it was ready to send soldiers to a reassurance force.", "support"),
    ("p1", "Rome's parliament will vote on the mission next month.", "neutral"),
    ("p2", "The Kremlin said foreign troops in Ukraine were unacceptable.", "oppose"),
    ("p2", "Moscow warned that any European contingent would be a target.", "oppose"),
    ("p3", "Sweden has not decided how many soldiers it could contribute.", "neutral"),
    ("p3", "Stockholm backs a European force to secure the ceasefire.", "support"),
    ("p4", "Energy prices rose again in the winter.", "neutral"),
    ("p4", "Hungary rejected any deployment of Western troops.", "oppose"),
]


def write_tiny_external(path: Path, target: str = "foreign troops in Ukraine") -> Path:
    """A JSONL file shaped like the dev set: id, url, text, target, label."""
    rows = [{"id": f"ext:{k}", "url": f"https://example.org/{page}", "text": text, "target": target, "label": label}
            for k, (page, text, label) in enumerate(TINY_EXTERNAL)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_external(tmp_path: Path) -> Path:
    return write_tiny_external(tmp_path / "external.jsonl")


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_tiny_corpus(tmp_path / "tiny_gold.jsonl")


@pytest.fixture
def make_cfg(tmp_path: Path, tiny_corpus: Path, monkeypatch):
    """Compose the real conf/ on the tiny corpus, tracked to a temporary sqlite store."""
    from stance.experiment.config import compose

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    store = tmp_path / "mlflow"
    store.mkdir()

    def make(*overrides: str):
        data = [] if any(o.startswith("data.path=") for o in overrides) else [f"data.path={tiny_corpus}"]
        # the real dev set beside the project is scored only where a test asks for a yardstick
        external = [] if any(o.lstrip("+~").startswith("external") for o in overrides) else ["external=none"]
        # the small packaged encoder keeps unit tests fast; named experiments keep their own (the
        # main job's default mpnet included), and so does a test that names a backbone
        backbone = [] if any(o.lstrip("+~").startswith(("backbone", "experiment")) for o in overrides) \
            else ["backbone=minilm"]
        return compose([
            f"paths.root={ROOT}", *data, *external, *backbone,
            f"tracking.uri=sqlite:///{store}/mlflow.db", f"tracking.artifact_root={store}/artifacts",
            "eval.n_bootstrap=200", *overrides,
        ])

    make.store = store
    return make


@pytest.fixture(scope="session")
def registered(tmp_path_factory):
    """A TF-IDF model trained on the tiny corpus, logged and registered as stance-test@champion
    in a temporary sqlite store (trained once per test session)."""
    import os

    from stance.experiment.config import compose
    from stance.experiment.engine import train
    from stance.tracking.registry import register

    home = tmp_path_factory.mktemp("registry")
    corpus = write_tiny_corpus(home / "tiny_gold.jsonl")
    uri = f"sqlite:///{home}/mlflow.db"
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        cfg = compose([f"paths.root={ROOT}", f"data.path={corpus}", f"tracking.uri={uri}",
                       f"tracking.artifact_root={home}/artifacts", "eval.n_bootstrap=50", "model=tfidf_logreg",
                       "external=none"])
        result = train(cfg)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    version = register(uri, result.run_id, "stance-test", "champion")
    return {"uri": uri, "model": "models:/stance-test@champion", "run_id": result.run_id, "version": version,
            "home": home, "cfg": cfg}


def _session_folder(tmp_path_factory, variable: str, name: str):
    """Point ``$variable`` at a new folder of this test session while the session runs."""
    import os

    folder = tmp_path_factory.mktemp(name)
    saved = os.environ.get(variable)
    os.environ[variable] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = saved


@pytest.fixture(scope="session", autouse=True)
def lean_cache(tmp_path_factory):
    """Lean artefacts (and the encoders exported to ONNX) go to a folder of this test session,
    so every session exports them afresh and nothing is left in the user's cache."""
    yield from _session_folder(tmp_path_factory, "STANCE_LEAN_CACHE", "lean-cache")


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory):
    """Sentence vectors cached on disk go to a folder of this test session (not the user's cache)."""
    yield from _session_folder(tmp_path_factory, "STANCE_EMBEDDING_CACHE", "embedding-cache")
