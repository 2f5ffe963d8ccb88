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
