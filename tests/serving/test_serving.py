"""The registered model served by ``mlflow models serve`` and by ``stance serve`` answers as
``stance predict`` does; ``stance serve`` holds up under load, stalled clients and bad input,
and follows a moving alias."""

import contextlib
import json
import os
import signal
import subprocess
import socket
import sys
import threading
import time
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
def _call(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 60):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@contextlib.contextmanager
def _serving(registered, model_uri=None, **options):
    """``stance serve``'s app on a free port of 127.0.0.1, from a thread of this process."""
    from stance.serving.predict import load
    from stance.serving.server import make_server

    uri = model_uri or registered["model"]
    server = make_server(load(uri, registered["uri"]), uri, port=0, tracking_uri=registered["uri"], **options).start()
    try:
        yield server.port
    finally:
        server.stop()


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
        assert health["model"] == registered["model"]
        assert (health["version"], health["run_id"]) == (registered["version"].version, registered["run_id"])
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
            (b'{"statements": "not a list"}', 400, "no statements"),
            (b'{"statements": [{"text": "x", "target": 3}]}', 400, "'target' must be a string"),
            (b'{"statements": [{"text": "x"}', 400, "body is not valid JSON"),
            (b'"just a string"', 400, "expected"),
            (b"", 400, "empty body"),
            (b"\xff\xfe", 400, "not valid UTF-8"),
            (b'{"text": "\\ud800"}', 400, "lone surrogate"),
            (b'{"statements": [{"text": "ok", "id": "\\udfff"}]}', 400, "lone surrogate"),
            (b'{"statements": ' + b"[" * 30 + b'"x"' + b"]" * 30 + b"}", 400, "nested too deeply"),
            (b"[" * 200_000 + b"]" * 200_000, 400, "nested too deeply"),
            (b'{"text": 1' + b"0" * 5000 + b"}", 400, "not usable JSON"),
            (json.dumps({"statements": ["x"] * 3000}).encode(), 413, "too many statements"),
            (b'{"text": "' + b"x" * (8 * 1024 * 1024) + b'"}', 413, "body too large"),
        ]
        for body, code, message in bad:
            status, error = _call(port, "POST", "/predict", body)
            assert status == code and message in error["error"] and "\n" not in error["error"], (body[:40], error)
            assert "Traceback" not in json.dumps(error)
        status, error = _call(port, "GET", "/nowhere")
        assert status == 404 and "POST /predict" in error["error"]
        status, error = _call(port, "GET", "/predict")
        assert status == 405 and "POST /predict" in error["error"]
        # the unread body of a 404 is not read as a second request on the same connection
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled))
            time.sleep(0.5)
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = _read_all(sock)
        assert received.count(b"HTTP/1.1 ") == 2 and b"404" in received.split(b"\r\n")[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def _read_all(sock) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_stance_serve_answers_200_concurrent_requests(registered):
    import http.client

    text = "Moscow rejects any foreign troops in Ukraine."
    expected = predict([text], model_uri=registered["model"], tracking_uri=registered["uri"])["label"][0]
    answers, barrier = [], threading.Barrier(200)

    def client(k):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            barrier.wait(timeout=30)
            connection.request("POST", "/predict", body=json.dumps({"text": text, "id": str(k)}))
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
            connection.close()
        except Exception as exc:  # noqa: BLE001 - counted as a failure below
            answers.append((None, repr(exc)))

    with _serving(registered) as port:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert [status for status, _ in answers] == [200] * 200, [a for a in answers if a[0] != 200][:3]
    assert {a["predictions"][0]["label"] for _, a in answers} == {expected}
    assert sorted(int(a["predictions"][0]["id"]) for _, a in answers) == list(range(200))


@pytest.mark.slow
def test_stalled_connections_are_cut_off_and_block_no_one(registered):
    from stance.serving.server import Limits

    threads_before = threading.active_count()
    with _serving(registered, limits=Limits(read_timeout=1.0, keep_alive=1.0)) as port:
        stalled = []
        for k in range(300):  # half a request head, or a head and half its body, then nothing
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Le" if k % 3 else
                         b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"text": "Mos')
            stalled.append(sock)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # opens and sends nothing
        started = time.monotonic()
        for _ in range(20):
            status, answer = _call(port, "POST", "/predict", b'{"text": "Paris will send troops."}', timeout=5)
            assert status == 200 and answer["predictions"][0]["label"] in LABELS
        assert time.monotonic() - started < 5
        assert threading.active_count() - threads_before < 10  # no thread per connection
        time.sleep(2.5)
        for sock in [*stalled, idle]:
            received = _read_all(sock)  # the server closed it: b"" or a 408, then end of stream
            assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:80]
            sock.close()
        assert _call(port, "GET", "/health")[0] == 200


@pytest.mark.slow
def test_a_full_queue_answers_503_with_retry_after(registered):
    import http.client

    from stance.serving.predict import load
    from stance.serving.server import Limits, make_server

    class Slow:  # the registered model, a second per request
        def __init__(self, model):
            self.model, self.how = model, model.how

        def scores(self, texts, targets):
            time.sleep(1.0)
            return self.model.scores(texts, targets)

        def input_limit(self):
            return self.model.input_limit()

    server = make_server(Slow(load(registered["model"], registered["uri"])), registered["model"], port=0,
                         tracking_uri=registered["uri"], limits=Limits(workers=1, queue=1)).start()
    answers = []

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("POST", "/predict", body=b'{"text": "Paris will send troops."}')
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Retry-After"), json.loads(response.read())))
        connection.close()

    try:
        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.stop()
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1 and set(statuses) <= {200, 503}, statuses
    assert all(retry == "1" and "busy" in body["error"] for status, retry, body in answers if status == 503)


@pytest.mark.slow
def test_stance_serve_follows_the_alias_to_a_new_version(registered):
    from stance.experiment.config import compose
    from stance.experiment.engine import train
    from stance.tracking.registry import register

    uri, home = registered["uri"], registered["home"]
    first = register(uri, registered["run_id"], "stance-follow", "live")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:  # a second model that scores differently: far stronger regularisation
        cfg = compose([f"paths.root={registered['cfg'].paths.root}", f"data.path={registered['cfg'].data.path}",
                       f"tracking.uri={uri}", f"tracking.artifact_root={home}/artifacts", "eval.n_bootstrap=50",
                       "model=tfidf_logreg", "model.estimator.C=0.01", "external=none"])
        other = train(cfg)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    text = "Moscow rejects any foreign troops in Ukraine."
    body = json.dumps({"text": text}).encode()
    with _serving(registered, "models:/stance-follow@live", reload_every=0.5) as port:
        health = _call(port, "GET", "/health")[1]
        assert (health["version"], health["run_id"]) == (first.version, registered["run_id"])
        before = _call(port, "POST", "/predict", body)[1]["predictions"][0]
        second = register(uri, other.run_id, "stance-follow", "live")
        deadline = time.monotonic() + 60
        while _call(port, "GET", "/health")[1]["version"] != second.version and time.monotonic() < deadline:
            time.sleep(0.2)
        health = _call(port, "GET", "/health")[1]
        assert (health["version"], health["run_id"]) == (second.version, other.run_id)
        after = _call(port, "POST", "/predict", body)[1]["predictions"][0]
    pinned = predict([text], model_uri=f"models:/stance-follow/{second.version}", tracking_uri=uri)
    assert after["p_oppose"] == pytest.approx(pinned["p_oppose"][0])
    assert after["p_oppose"] != pytest.approx(before["p_oppose"])
