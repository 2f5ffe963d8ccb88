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
from stance.predict import predict
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
