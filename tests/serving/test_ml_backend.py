"""The Label Studio ML backend app on a real server (uvicorn on 127.0.0.1), with the tiny
registered model: health, setup, predict, webhooks, and the background retraining step."""

import contextlib
import json
import threading
import urllib.error
import urllib.request

import pytest

from stance.annotation.labelstudio import labelling_config
from stance.labels import FOREIGN_TROOPS_TARGET, LABELS

TEXTS = ["Moscow rejects any foreign troops in Ukraine.", "Paris is ready to send soldiers.",
         "The talks resume next week."]


def _call(port, method, path, body=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextlib.contextmanager
def _backend(registered, tmp_path, retrain, **options):
    from stance.serving.ml_backend import make_backend_server
    from stance.serving.predict import load
    from stance.serving.server import Service

    model = load(registered["model"], registered["uri"])
    service = Service(model, registered["model"], registered["uri"])
    server = make_backend_server(service, retrain, "127.0.0.1", 0, labels_dir=tmp_path / "labels", **options).start()
    try:
        yield server
    finally:
        server.stop()


def _task(k, text, label=None, holder="someone"):
    task = {"id": 100 + k, "data": {"id": f"art:{k}", "document": "art", "start": 10 * k, "end": 10 * k + len(text),
                                    "text": text, "target": FOREIGN_TROOPS_TARGET}}
    if label is not None:
        task["annotation"] = {"id": 7 + k, "result": [
            {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
            {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": [holder]}}],
            "was_cancelled": False, "created_at": "2025-01-01T00:00:00Z"}
    return task


def _event(action, k, text, label, holder="someone", project=3):
    task = _task(k, text, label, holder)
    return {"action": action, "project": {"id": project}, "annotation": task.pop("annotation"), "task": task}


def test_health_setup_and_predict(registered, tmp_path):
    from stance.serving.predict import classify

    with _backend(registered, tmp_path, lambda project, path: {}) as server:
        version = registered["version"].version
        for path in ("/", "/health"):
            status, health = _call(server.port, "GET", path)
            assert status == 200 and health["status"] == "UP" and health["model_class"] == "StanceChampion"
            assert health["model_version"] == f"stance-test/{version}" and health["training"]["done"] == 0
        status, answer = _call(server.port, "POST", "/setup", {"project": "3.1700000000", "schema":
                                                               labelling_config(FOREIGN_TROOPS_TARGET)})
        assert (status, answer) == (200, {"model_version": f"stance-test/{version}"})
        status, answer = _call(server.port, "POST", "/setup", {"project": "3.17", "schema": "<View><Text name='x' "
                                                               "value='$x'/></View>"})
        assert status == 400 and 'no <Choices name="stance" toName="text">' in answer["error"]

        tasks = [_task(k, text) for k, text in enumerate(TEXTS)]
        status, answer = _call(server.port, "POST", "/predict", {"tasks": tasks, "project": "3.17",
                                                                 "label_config": "", "params": {}})
    assert status == 200 and len(answer["results"]) == len(TEXTS)
    expected = classify(TEXTS, registered["model"], registered["uri"], target=FOREIGN_TROOPS_TARGET, progress=False)
    for result, want in zip(answer["results"], expected):
        assert result["model_version"] == f"stance-test/{version}"
        assert result["result"] == [{"from_name": "stance", "to_name": "text", "type": "choices",
                                     "value": {"choices": [want["label"]]}}]
        assert result["score"] == pytest.approx(want["confidence"], abs=1e-4) and want["label"] in LABELS


@pytest.mark.parametrize("path, body, status, message", [
    ("/predict", b"{not json", 400, "body is not valid JSON (line 1, column 2"),
    ("/predict", b'{"tasks": [{"id": 5, "data": {"text": "  "}}]}', 400, "task 5: data.text must be a non-blank"),
    ("/predict", b'{"tasks": "all"}', 400, 'expected {"tasks"'),
    ("/setup", b'{"project": "x.1", "schema": "<View/>"}', 400, "no project id"),
    ("/webhook", b"[1, 2]", 400, "expected a JSON object with an 'action'"),
    ("/webhook", b'{"action": "ANNOTATION_CREATED", "project": {"id": 3}}', 400, "expected 'task' and 'annotation'"),
    ("/predict", b"\xff\xfe", 400, "body is not valid UTF-8"),
])
def test_malformed_requests_are_one_line_4xx(registered, tmp_path, path, body, status, message):
    with _backend(registered, tmp_path, lambda project, labels: {}) as server:
        got, answer = _call(server.port, "POST", path, body)
        assert got == status and message in answer["error"] and "\n" not in answer["error"]
        assert list(answer) == ["error"]
        assert _call(server.port, "GET", "/nowhere")[0] == 404


def test_webhooks_write_labels_and_retrain_in_the_background(registered, tmp_path):
    calls, release = [], threading.Event()

    def retrain(project, path):  # the first training waits until the test lets it finish
        calls.append((project, [json.loads(line) for line in path.read_text().splitlines()]))
        if len(calls) == 1:
            assert release.wait(30)
        return {"run_id": f"run-{len(calls)}", "promoted": False, "reason": "test"}

    with _backend(registered, tmp_path, retrain) as server:
        trainer = server.uvicorn.config.app.state.trainer
        assert _call(server.port, "POST", "/webhook", {"action": "PROJECT_UPDATED", "project": {"id": 3}}) == \
            (200, {"status": "ignored", "action": "PROJECT_UPDATED"})
        assert trainer.status()["done"] == 0 and not calls

        status, answer = _call(server.port, "POST", "/webhook", _event("ANNOTATION_CREATED", 0, TEXTS[0], "oppose"))
        assert (status, answer["training"]) == (200, "scheduled")
        # while it trains: requests are answered, and two more events queue one training, not two
        for k, (text, label) in enumerate([(TEXTS[1], "support"), (TEXTS[0], "neutral")], start=1):
            event = _event("ANNOTATION_UPDATED" if k == 2 else "ANNOTATION_CREATED", 0 if k == 2 else k, text, label)
            assert _call(server.port, "POST", "/webhook", event)[0] == 200
        status, health = _call(server.port, "GET", "/health")
        assert status == 200 and health["training"]["running"] == "3" and health["training"]["queued"] == ["3"]
        assert _call(server.port, "POST", "/predict", {"tasks": [_task(0, TEXTS[0])]})[0] == 200
        release.set()
        trainer.wait(60)
        health = _call(server.port, "GET", "/health")[1]
    assert health["training"]["done"] == 2 and health["training"]["last"]["run_id"] == "run-2"
    assert [project for project, _ in calls] == ["3", "3"]
    assert [(r["id"], r["label"]) for r in calls[0][1]] == [("art:0", "oppose")]
    assert {r["id"]: r["label"] for r in calls[1][1]} == {"art:0": "neutral", "art:1": "support"}
    written = [json.loads(line) for line in (tmp_path / "labels/project-3.jsonl").read_text().splitlines()]
    assert written == calls[1][1] and all(r["holder"] == "someone" and r["annotator"] == "labelstudio" for r in written)


def test_a_label_without_holder_or_a_failed_training_is_one_line(registered, tmp_path):
    from stance.errors import StanceError

    def retrain(project, path):
        raise StanceError("the store is read-only")

    with _backend(registered, tmp_path, retrain) as server:
        status, answer = _call(server.port, "POST", "/webhook", _event("ANNOTATION_CREATED", 0, TEXTS[0], "oppose", ""))
        assert status == 422 and answer["error"] == ("ANNOTATION_CREATED of task 100: task 100 (statement art:0): "
                                                     "the holder is empty")
        assert not (tmp_path / "labels/project-3.jsonl").exists()
        status, answer = _call(server.port, "POST", "/webhook", {"action": "START_TRAINING", "project": {"id": 3}})
        assert status == 200
        trainer = server.uvicorn.config.app.state.trainer
        trainer.wait(30)
        assert trainer.status()["last"]["error"] == "no labels of project 3 yet"
        assert _call(server.port, "POST", "/webhook", _event("ANNOTATION_CREATED", 0, TEXTS[0], "oppose"))[0] == 200
        trainer.wait(30)
        assert _call(server.port, "GET", "/health")[1]["training"]["last"]["error"] == "the store is read-only"


def test_older_train_endpoint_takes_tasks_with_annotations(registered, tmp_path):
    seen = []
    with _backend(registered, tmp_path, lambda project, path: seen.append(path.read_text()) or {}) as server:
        task = _task(0, TEXTS[2], "neutral", "author")
        task["annotations"] = [task.pop("annotation")]
        status, answer = _call(server.port, "POST", "/train", {"annotations": [task], "project": "4.1700000000",
                                                               "label_config": "", "params": {}})
        assert status == 201 and answer["status"] == "scheduled"
        server.uvicorn.config.app.state.trainer.wait(30)
    assert [json.loads(line)["label"] for line in seen[0].splitlines()] == ["neutral"]
