"""``stance serve`` under concurrent clients: latency, failures and the server's peak memory.

Trains the smallest real model (tfidf_logreg on annotations/gold.jsonl) into a temporary MLflow
store, registers it (and builds its lean artefact), starts ``stance serve`` on it as a
subprocess, and sends single-statement ``POST /predict`` requests from 1, 32 and 200 client
threads at once (each request on a new connection, as simple clients do). Prints a Markdown
table: p50/p99 latency, requests/s and failed requests (a reset or refused connection, a
timeout, or any status but 200) per level, and the server's peak RSS (VmHWM) and RSS at the end.

``--old FILE`` also measures a former server module (e.g. ``git show HEAD~1:stance/serving/server.py
> /tmp/old_server.py``; anything with ``make_server(model, uri, host, port)`` returning a
``socketserver`` server), started the same way, for "before" figures.

Run from the project root:  python benchmarks/serve.py [--requests 1000] [--old /tmp/old_server.py]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "annotations/gold.jsonl"
STATEMENT = "Moscow will never accept NATO soldiers in Ukraine."
LEVELS = (1, 32, 200)

OLD_SERVER = """import importlib.util, sys
from stance.serving.predict import load
spec = importlib.util.spec_from_file_location("old_server", sys.argv[1])
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
server = old.make_server(load(sys.argv[2], sys.argv[3]), sys.argv[2], "127.0.0.1", int(sys.argv[4]))
server.serve_forever()
"""


def setup(store: Path) -> tuple[str, str]:
    """Train, log and register tfidf_logreg on the gold statements; returns (tracking URI, model URI)."""
    from stance.experiment.config import compose
    from stance.experiment.engine import train
    from stance.serving.onnx.cache import prepare
    from stance.tracking.registry import register

    uri = f"sqlite:///{store}/mlflow.db"
    started = time.perf_counter()
    cfg = compose([f"paths.root={ROOT}", f"data.path={GOLD}", f"tracking.uri={uri}",
                   f"tracking.artifact_root={store}/artifacts", "eval.n_bootstrap=50", "model=tfidf_logreg",
                   "external=none"])
    result = train(cfg)
    register(uri, result.run_id, "bench-serve", "live")
    prepare("models:/bench-serve@live", uri)
    print(f"trained, registered and exported tfidf_logreg in {time.perf_counter() - started:.1f} s", flush=True)
    return uri, "models:/bench-serve@live"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, log) -> subprocess.Popen:
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                connection.close()
                return server
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start (see {log.name})")
        time.sleep(0.2)


def memory(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0]) / 1024
    return found


def one_request(port: int, body: bytes) -> float | None:
    """Seconds for one request on a new connection, or None when it failed."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        connection.close()
        return time.perf_counter() - started if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def load_level(port: int, clients: int, requests: int) -> dict:
    """``requests`` requests (at least one per client) from ``clients`` threads started together."""
    each = max(1, requests // clients)
    latencies, failed, lock = [], [0], threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        barrier.wait()
        for r in range(each):
            body = json.dumps({"text": f"{STATEMENT} ({k}.{r})"}).encode()  # new text: no cached vectors
            seconds = one_request(port, body)
            with lock:
                if seconds is None:
                    failed[0] += 1
                else:
                    latencies.append(seconds * 1000)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    pick = (lambda q: latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))]) if latencies else None
    return {"clients": clients, "requests": clients * each, "failed": failed[0],
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p99": pick(0.99) if pick else float("nan"), "rate": len(latencies) / wall}


def measure(name: str, command: list[str], port: int, requests: int, log) -> tuple[str, list[dict], dict]:
    server = start(command, port, log)
    try:
        for _ in range(20):  # warm-up, not counted
            one_request(port, json.dumps({"text": STATEMENT}).encode())
        rows = []
        for clients in LEVELS:
            rows.append(load_level(port, clients, requests))
            print(f"  {name}, {clients} clients: {rows[-1]}", flush=True)
        time.sleep(1.0)
        return name, rows, memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per concurrency level")
    parser.add_argument("--old", default=None, help="a former server module to measure as well (before)")
    args = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="stance-serve-bench-"))
    os.environ["STANCE_LEAN_CACHE"] = str(store / "lean-cache")  # nothing left in the user's cache
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    uri, model_uri = setup(store)
    runs = []
    with open(store / "server.log", "w") as log:
        if args.old:
            port = free_port()
            runs.append(measure("before: http.server, one lock", [sys.executable, "-c", OLD_SERVER, args.old,
                                                                   model_uri, uri, str(port)], port, args.requests, log))
        port = free_port()
        runs.append(measure("stance serve (uvicorn, 2 scoring threads)",
                            [sys.executable, "-m", "stance.cli.commands", "serve", "-m", model_uri, "--tracking-uri",
                             uri, "-p", str(port), "--reload-every", "0"], port, args.requests, log))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n## stance serve, single-statement requests (tfidf_logreg, lean fp32; {cores} cores; "
          "clients in the same machine, a new connection per request)\n")
    print("| server | concurrent clients | requests | failed | p50 ms | p99 ms | requests/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rows, _ in runs:
        for row in rows:
            print(f"| {name} | {row['clients']} | {row['requests']} | {row['failed']} | {row['p50']:.1f} | "
                  f"{row['p99']:.1f} | {row['rate']:.0f} |")
    print("\n| server | peak RSS (VmHWM) MB | RSS at the end MB |")
    print("|---|---:|---:|")
    for name, _, mem in runs:
        print(f"| {name} | {mem.get('VmHWM', float('nan')):.0f} | {mem.get('VmRSS', float('nan')):.0f} |")
    print(f"\nstore and server log: {store}")


if __name__ == "__main__":
    main()
