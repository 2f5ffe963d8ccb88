"""The registered model served by ``mlflow models serve`` answers as ``stance predict`` does."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stance.labels import LABELS
from stance.serving.predict import predict
from tests_helpers import free_port, wait_until_up

STATEMENTS = [{"text": "Moscow called any European deployment unacceptable."},
              {"text": "Britain is willing to put boots on the ground in Ukraine.",
               "target": "foreign troops in Ukraine"}]


@pytest.mark.slow
def test_served_model_returns_labels_and_probabilities(registered, tmp_path):
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=registered["uri"], PATH=bin_dir + os.pathsep + env.get("PATH", ""))
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(
        [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", registered["model"], "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps({"dataframe_records": STATEMENTS}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())["predictions"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert [sorted(row) for row in answer] == [sorted(["label", *LABELS])] * 2
    expected = predict([s["text"] for s in STATEMENTS], model_uri=registered["model"], tracking_uri=registered["uri"],
                       target=None)
    for row, (_, mine) in zip(answer, expected.iterrows()):
        assert row["label"] in LABELS and sum(row[label] for label in LABELS) == pytest.approx(1.0)
    assert answer[0]["label"] == expected["label"][0]
    assert answer[0]["oppose"] == pytest.approx(expected["p_oppose"][0])


# ----------------------------------------------------------------------------- stance serve
def _call(port: int, method: str, path: str, body: bytes | None = None):
    import urllib.error

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_stance_serve_answers_batches_and_rejects_bad_input_in_one_line(registered, tmp_path):
    from tests_helpers import clean_env

    predict(["Warm the lean artefact."], model_uri=registered["model"], tracking_uri=registered["uri"])
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "stance.cli.commands", "serve", "-m", registered["model"], "--tracking-uri", registered["uri"],
         "-p", str(port)], env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    texts = [f"Statement {k}: Moscow rejects any foreign troops in Ukraine." if k % 2 else
             f"Statement {k}: Britain is ready to send soldiers." for k in range(32)]
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, timeout=60)
        status, health = _call(port, "GET", "/health")
        assert status == 200 and health["runtime"] == "lean fp32" and health["labels"] == list(LABELS)
        status, answer = _call(port, "POST", "/predict",
                               json.dumps({"statements": [{"text": t, "id": f"s{k}"} for k, t in enumerate(texts)]})
                               .encode())
        assert status == 200
        expected = predict(texts, model_uri=registered["model"], tracking_uri=registered["uri"])
        assert [row["id"] for row in answer["predictions"]] == [f"s{k}" for k in range(32)]
        assert [row["label"] for row in answer["predictions"]] == expected["label"].tolist()
        assert [row["p_oppose"] for row in answer["predictions"]] == pytest.approx(expected["p_oppose"].tolist())
        status, one = _call(port, "POST", "/predict", json.dumps({"text": texts[1]}).encode())
        assert status == 200 and one["predictions"][0]["label"] == expected["label"][1]
        bad = [
            (b'{"statements": [{"text": null}]}', 400, "statement 1: 'text' must be a string"),
            (b'{"statements": ["fine", "   "]}', 400, "statement 2: blank text"),
            (b'{"statements": []}', 400, "no statements"),
            (b'{"statements": [{"text": "x"}', 400, "body is not valid JSON"),
            (b'"just a string"', 400, "expected"),
            (json.dumps({"statements": ["x"] * 3000}).encode(), 413, "too many statements"),
        ]
        for body, code, message in bad:
            status, error = _call(port, "POST", "/predict", body)
            assert status == code and message in error["error"] and "\n" not in error["error"], (body[:40], error)
            assert "Traceback" not in json.dumps(error)
        status, error = _call(port, "GET", "/nowhere")
        assert status == 404 and "POST /predict" in error["error"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
