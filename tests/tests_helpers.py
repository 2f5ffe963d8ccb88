"""Helpers shared by test modules (plain functions, not fixtures)."""

import json


def corrupt_copy(src, dest):
    """A copy of an annotation file with a bad label (line 2), a wrong span (line 3), a
    duplicate id (line 4) and a truncated last line; returns the last line's number."""
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    records[1]["label"] = "favour"
    records[2]["start"] += 1
    records[3]["id"] = records[0]["id"]
    out = [json.dumps(r, ensure_ascii=False) for r in records]
    out[-1] = out[-1][: len(out[-1]) // 2]
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out)


# ---------------------------------------------------------------------- local servers
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process, timeout: float = 180.0) -> None:
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"no answer from {url} in {timeout} s")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without MLFLOW_* settings, the venv's bin first on PATH, plus ``extra``."""
    import os
    import sys
    from pathlib import Path

    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def start_mlflow_server(home, backend: str | None = None):
    """A real ``mlflow server`` on 127.0.0.1 (free port): a sqlite backend (or ``backend``, e.g.
    PostgreSQL), artifacts served by the server from ``home/artifacts``. Returns (url, process);
    stop it with stop_process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    log = open(Path(home) / "server.log", "w")
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", backend or f"sqlite:///{home}/server.db", "--artifacts-destination", f"{home}/artifacts",
         "--workers", "2"],
        env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process)
    except AssertionError:
        stop_process(process)
        raise AssertionError(f"mlflow server did not start:\n{(Path(home) / 'server.log').read_text()[-3000:]}")
    return url, process


def stop_process(process) -> None:
    import os
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    if getattr(process, "log", None):
        process.log.close()


# ---------------------------------------------------------------------- Label Studio
#: The API token of the test user (40 characters, as Label Studio wants).
LABEL_STUDIO_TOKEN = "5f1e0c9a7b3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f"
LABEL_STUDIO_INSTALL = "python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install -r labelstudio.txt"


def label_studio() -> str:
    """The label-studio executable: $STANCE_LABEL_STUDIO, the project's .venv-labelstudio, or PATH."""
    import os
    import shutil
    from pathlib import Path

    import pytest

    root = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("STANCE_LABEL_STUDIO"), root / ".venv-labelstudio/bin/label-studio",
                      shutil.which("label-studio")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail(f"Label Studio is not installed: {LABEL_STUDIO_INSTALL} (the README's test command does this)")


def start_label_studio(folder, port: int, **env: str):
    """A real Label Studio on 127.0.0.1:``port`` with one user (token :data:`LABEL_STUDIO_TOKEN`),
    its data in ``folder``; ``env`` adds settings (e.g. ML_BLOCK_LOCAL_IP). Stop it with stop_process."""
    import os
    import subprocess
    from pathlib import Path

    settings = {**os.environ, "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false", "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", **env}
    log = open(Path(folder) / "labelstudio.log", "w")
    process = subprocess.Popen(
        [label_studio(), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(Path(folder) / "ls-data"), "--username", "tester@example.com",
         "--password", "stance-test-pw1", "--user-token", LABEL_STUDIO_TOKEN, "--enable-legacy-api-token"],
        env=settings, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    return process


def label_studio_api(port: int, method: str, path: str, body=None):
    """One call to Label Studio's API as the test user; the JSON answer (None when empty)."""
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Token {LABEL_STUDIO_TOKEN}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


# --------------------------------------------------------------------------- a model whose explanations are known
LABELS = ("support", "oppose", "neutral")
#: A known model: each word adds its weight to the support score; the other scores are 0.
SUPPORT = {"send": 3.0, "troops": 1.5, "ready": 0.8, "never": -2.5}


def known_proba(texts):
    """Probabilities of that model (label order :data:`LABELS`) for each text."""
    import numpy as np

    from stance.evaluation.attribution import words

    scores = np.zeros((len(texts), 3))
    for row, text in enumerate(texts):
        scores[row, 0] = sum(SUPPORT.get(w.token.lower(), 0.0) for w in words(text))
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)
