"""``stance labelstudio backend`` against a real Label Studio on 127.0.0.1: Label Studio connects
to it, asks it for a task's prediction, sends a webhook for a saved annotation, and the backend
retrains in the background (a new MLflow run and registered version; the alias moves only if the
new run is better)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests_helpers import (
    free_port,
    label_studio_api,
    start_label_studio,
    stop_process,
    wait_until_up,
)

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"


#: Labels as the backend writes them (statements made up for the test, not in the tiny corpus).
TINY_LABELLED = [
    {"id": f"new:{k}", "document": "new", "start": 50 * k, "end": 50 * k + len(text), "text": text,
     "target": "foreign troops in Ukraine", "label": label, "holder": "someone", "annotator": "labelstudio",
     "rationale": ""}
    for k, (text, label) in enumerate([
        ("Norway offered to send a battalion to secure the ceasefire line.", "support"),
        ("The Kremlin called any Western contingent a provocation.", "oppose"),
        ("Ministers will meet again in Brussels on Friday.", "neutral"),
        ("Denmark is prepared to deploy soldiers after a peace deal.", "support")])]


def stance(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "stance.cli.commands", *args], capture_output=True, text=True,
                         timeout=600)
    assert not check or out.returncode == 0, out.stderr
    return out


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _retrain_overrides(registered, experiment):
    cfg, home = registered["cfg"], registered["home"]
    return [f"paths.root={ROOT}", f"data.path={cfg.data.path}", "external=none", "eval.n_bootstrap=50",
            f"experiment_name={experiment}", f"tracking.artifact_root={home}/artifacts"]


def test_backend_refuses_a_model_without_alias(registered):
    out = stance("labelstudio", "backend", "-m", f"runs:/{registered['run_id']}/model", "--tracking-uri",
                 registered["uri"], check=False)
    assert out.returncode == 2 and out.stderr.strip() == (
        f"error: the backend retrains and promotes by alias: give -m models:/NAME@ALIAS, not "
        f"'runs:/{registered['run_id']}/model'")


@pytest.mark.slow
def test_retrain_registers_a_version_and_promotes_only_if_better(registered, tmp_path):
    from mlflow.tracking import MlflowClient

    from stance.cli.backend import retrain
    from stance.tracking.registry import register

    uri = registered["uri"]
    first = register(uri, registered["run_id"], "stance-ls-retrain", "champion")
    labels = tmp_path / "project-1.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in TINY_LABELLED), encoding="utf-8")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:  # no model= override: the champion's model family (tfidf_logreg)
        outcome = retrain("1", labels, model_uri="models:/stance-ls-retrain@champion", tracking_uri=uri,
                          overrides=_retrain_overrides(registered, "ls-retrain"))
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    client = MlflowClient(uri, uri)
    new, old = client.get_run(outcome["run_id"]), client.get_run(registered["run_id"])
    assert new.data.tags["stance.model"] == "tfidf_logreg" and "extra_train=labelstudio" in new.data.tags[
        "stance.overrides"]
    assert new.data.metrics["n_extra_mean"] == len(TINY_LABELLED)
    assert int(outcome["version"]) == int(first.version) + 1
    better = new.data.metrics["macro_f1_mean"] > old.data.metrics["macro_f1_mean"]
    assert outcome["promoted"] == better
    champion = client.get_model_version_by_alias("stance-ls-retrain", "champion")
    assert str(champion.version) == (outcome["version"] if better else first.version)
    assert client.get_model_version_by_alias("stance-ls-retrain", "champion" if better else "candidate").run_id == \
        outcome["run_id"]


@pytest.mark.slow
def test_label_studio_uses_the_backend_and_its_webhooks_retrain(registered, tiny_seeds, tmp_path):
    from mlflow.tracking import MlflowClient

    from stance.serving.predict import classify
    from stance.tracking.registry import register

    uri, name = registered["uri"], "stance-ls-backend"
    first = register(uri, registered["run_id"], name, "champion")
    pending = tmp_path / "pending"
    stance("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(pending))
    stance("labelstudio", "export", "--no-predictions", "--pending", str(pending), "--articles", str(tiny_seeds),
           "--out", str(tmp_path / "ls"))
    config = (tmp_path / "ls/config.xml").read_text()
    made = json.loads((tmp_path / "ls/tasks.json").read_text())

    ls_port, backend_port = free_port(), free_port()
    backend_url = f"http://127.0.0.1:{backend_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(LABEL_STUDIO_URL=f"http://127.0.0.1:{ls_port}", LABEL_STUDIO_API_KEY="5f1e0c9a7b3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f")
    overrides = [arg for o in _retrain_overrides(registered, "ls-backend") for arg in ("--train-override", o)]
    log = open(tmp_path / "backend.log", "w")
    backend = subprocess.Popen(
        [sys.executable, "-m", "stance.cli.commands", "labelstudio", "backend", "-m", f"models:/{name}@champion",
         "--tracking-uri", uri, "-p", str(backend_port), "--labels-dir", str(tmp_path / "labels"), *overrides],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    backend.log = log
    # Label Studio refuses an ML backend or a webhook on this machine unless told otherwise
    studio = start_label_studio(tmp_path, ls_port, ML_BLOCK_LOCAL_IP="false", SSRF_PROTECTION_ENABLED="false")
    try:
        wait_until_up(f"{backend_url}/health", backend, timeout=120)
        wait_until_up(f"http://127.0.0.1:{ls_port}/health", studio, timeout=420)
        project = label_studio_api(ls_port, "POST", "/api/projects", {"title": "stance", "label_config": config})
        assert label_studio_api(ls_port, "POST", f"/api/projects/{project['id']}/import", made)["task_count"] == 6
        connected = label_studio_api(ls_port, "POST", "/api/ml", {"url": backend_url, "project": project["id"],
                                                                  "title": "stance"})
        assert connected["model_version"] == f"{name}/{first.version}", connected
        listed = label_studio_api(ls_port, "GET", f"/api/tasks?project={project['id']}&page_size=100")
        tasks = sorted(listed["tasks"] if isinstance(listed, dict) else listed, key=lambda t: t["id"])

        # opening a task (as the labelling stream does) makes Label Studio ask the backend
        opened = label_studio_api(ls_port, "GET", f"/api/tasks/{tasks[0]['id']}")
        stored = label_studio_api(ls_port, "GET", f"/api/predictions?task={tasks[0]['id']}")
        expected = classify([opened["data"]["text"]], f"models:/{name}/{first.version}", uri,
                            target=opened["data"]["target"], progress=False)[0]
        assert len(stored) == 1 and stored[0]["model_version"] == f"{name}/{first.version}"
        assert stored[0]["result"][0]["value"]["choices"] == [expected["label"]]
        assert stored[0]["score"] == pytest.approx(expected["confidence"], abs=1e-4)

        for task, label in zip(tasks[:3], ["neutral", "support", "oppose"]):  # saving one sends the webhook
            label_studio_api(ls_port, "POST", f"/api/tasks/{task['id']}/annotations", {"result": [
                {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
                {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": ["someone"]}}]})
        deadline, health = time.monotonic() + 300, {}
        while time.monotonic() < deadline:
            health = _get(f"{backend_url}/health")["training"]
            if health["done"] and not health["running"] and not health["queued"]:
                break
            time.sleep(1)
        assert health.get("last") and "error" not in health["last"], (health, (tmp_path / "backend.log").read_text())
        labels = [json.loads(line) for line in (tmp_path / f"labels/project-{project['id']}.jsonl").read_text()
                  .splitlines()]
        assert sorted(r["label"] for r in labels) == ["neutral", "oppose", "support"]
        after = _get(f"{backend_url}/health")
    finally:
        stop_process(studio)
        stop_process(backend)

    last = health["last"]
    client = MlflowClient(uri, uri)
    new, old = client.get_run(last["run_id"]), client.get_run(registered["run_id"])
    assert new.info.status == "FINISHED" and new.data.metrics["n_extra_mean"] == 3
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    assert versions[0] == int(first.version) and str(versions[-1]) == last["version"]
    better = new.data.metrics["macro_f1_mean"] > old.data.metrics["macro_f1_mean"]
    champion = client.get_model_version_by_alias(name, "champion")
    assert last["promoted"] == better and str(champion.version) == (last["version"] if better else first.version)
    assert after["model_version"] == f"{name}/{champion.version}"
