"""The Label Studio round-trip against a real Label Studio server started on 127.0.0.1.

Label Studio is a server application with its own pinned dependencies, so it lives in its
own virtual environment (``labelstudio.txt``; the README's test command installs it). The
test adds an article, exports its statements with the champion's pre-annotations, creates
two projects (two annotators) through the server's API, imports the tasks, submits
annotations, exports them as JSON and imports them back as passes that validate and give
an agreement.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests_helpers import LABEL_STUDIO_TOKEN as TOKEN, free_port, label_studio, wait_until_up
from tests_helpers import label_studio_api as api

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "tests/fixtures/new_article.txt"


def stance(*args):
    out = subprocess.run([sys.executable, "-m", "stance.cli.commands", *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.slow
def test_label_studio_round_trip(registered, tiny_seeds, tmp_path):
    binary = label_studio()
    pending = tmp_path / "pending"
    stance("corpus", "add", str(ARTICLE), "--articles", str(tiny_seeds), "--pending", str(pending))
    stance("labelstudio", "export", "--pending", str(pending), "--articles", str(tiny_seeds), "-m", registered["model"],
           "--tracking-uri", registered["uri"], "--out", str(tmp_path / "ls"))
    config = (tmp_path / "ls/config.xml").read_text()
    made = json.loads((tmp_path / "ls/tasks.json").read_text())
    assert len(made) == 6 and all(t["predictions"][0]["result"][0]["value"]["choices"][0] in
                                  ("support", "oppose", "neutral") for t in made)

    port = free_port()
    env = {**os.environ, "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false", "SENTRY_DSN": "",
           "FRONTEND_SENTRY_DSN": "", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log = open(tmp_path / "labelstudio.log", "w")
    server = subprocess.Popen(
        [binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path / "ls-data"), "--username", "tester@example.com", "--password", "stance-test-pw1",
         "--user-token", TOKEN, "--enable-legacy-api-token"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    answers = {  # two annotators who disagree on one statement (the Finnish one)
        "a": ["neutral", "support", "support", "neutral", "oppose", "neutral"],
        "b": ["neutral", "support", "support", "oppose", "oppose", "neutral"],
    }
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, timeout=420)
        for annotator, labels in answers.items():
            project = api(port, "POST", "/api/projects", {"title": f"stance {annotator}", "label_config": config})
            imported = api(port, "POST", f"/api/projects/{project['id']}/import", made)
            assert imported["task_count"] == 6
            listed = api(port, "GET", f"/api/tasks?project={project['id']}&page_size=100")
            task_list = sorted(listed["tasks"] if isinstance(listed, dict) else listed, key=lambda t: t["id"])
            assert [t["data"]["id"] for t in task_list] == [t["data"]["id"] for t in made]
            for task, label in zip(task_list, labels):
                holder = "author" if label == "neutral" else "someone"
                api(port, "POST", f"/api/tasks/{task['id']}/annotations", {"result": [
                    {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
                    {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": [holder]}},
                    {"from_name": "rationale", "to_name": "text", "type": "textarea",
                     "value": {"text": ["test rationale"]}}]})
            exported = api(port, "GET", f"/api/projects/{project['id']}/export?exportType=JSON")
            (tmp_path / f"export-{annotator}.json").write_text(json.dumps(exported))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()

    for annotator in answers:
        out = stance("labelstudio", "import", str(tmp_path / f"export-{annotator}.json"), "--annotator", annotator,
                     "--pending", str(pending), "--out", str(tmp_path / f"pass-{annotator}.jsonl"))
        assert f"6 annotations by {annotator}" in out.stdout
        records = [json.loads(line) for line in (tmp_path / f"pass-{annotator}.jsonl").read_text().splitlines()]
        assert [r["label"] for r in records] == answers[annotator] and records[0]["rationale"] == "test rationale"
    stance("annotations", "validate", str(tmp_path / "pass-a.jsonl"), str(tmp_path / "pass-b.jsonl"),
           "--articles", str(tiny_seeds))
    agreement = stance("annotations", "agreement", str(tmp_path / "pass-a.jsonl"), str(tmp_path / "pass-b.jsonl"))
    assert "n=6" in agreement.stdout and "observed agreement=0.833" in agreement.stdout
    kappa = float(re.search(r"Cohen's kappa=(-?[0-9.]+)", agreement.stdout).group(1))
    assert 0.5 < kappa < 1.0
