"""The lean prediction path, measured: cold start, batch throughput against the hardware limit
and the alternatives, int8's effect on accuracy, and the latency of ``stance serve``.

Trains the champion configuration (tfidf_embed_svm on the article statements plus the written
ones, packaged MiniLM) in a temporary MLflow store, registers it (which builds its lean
artefact) and prints, for the parts asked for (default: all):

* ``cold``: ``stance predict "<one statement>"`` in a new process, lean and ``--mlflow``:
  median and range of the wall time, and peak memory (max RSS);
* ``throughput``: statements/s over N statements (default 10,000: one to three corpus
  sentences joined), for the sentence encoder alone (ONNX fp32 and int8 as the lean path runs
  it, sentence-transformers ``encode``, the transformers feature-extraction pipeline) and the
  whole model (lean fp32, lean int8, the MLflow pyfunc), against the limit computed from this
  machine's measured matrix-multiply FLOP/s and the encoder's FLOPs for these statements;
* ``int8``: macro-F1 leave-one-article-out (the article statements, written ones only in
  training) and TweetEval F_avg (test split) with the fp32 and the int8 encoder;
* ``serve``: ``stance serve`` latency, p50 and p99 over R requests of 1 and of 32 statements;
* ``encoders`` (alone): the encoder comparison without MLflow or training, for a bare GPU machine.

Run from the project root:  python benchmarks/lean.py [--parts cold,throughput,int8,serve] [--n 10000]
Add ``--device cuda`` on a GPU machine: sentence-transformers (fp32, and fp16) and the pipeline
then run there, ONNX Runtime on the CPU cores:  python benchmarks/lean.py --parts encoders --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from predict import make_statements, timed  # benchmarks/predict.py: the same statements, the same clock

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = "Moscow will never accept NATO soldiers in Ukraine."
GOLD = ROOT / "annotations/gold.jsonl"
WRITTEN = ROOT / "annotations/written/gold.jsonl"


def champion():
    from stance.models import TfidfEmbeddingClassifier

    return TfidfEmbeddingClassifier(classifier="svm", device="cpu")


def setup(store: Path) -> tuple[str, str]:
    """Train, log and register the champion configuration; returns (tracking URI, model URI)."""
    from stance.data import load_corpus
    from stance.experiment.engine import as_xy
    from stance.serving.onnx.cache import prepare
    from stance.tracking.tracker import Tracker
    from stance.tracking.registry import register

    uri = f"sqlite:///{store}/mlflow.db"
    X, y = as_xy(load_corpus([GOLD, WRITTEN])["train"])
    estimator, seconds = timed(champion().fit, X, y)
    tracker = Tracker(uri, "benchmark", str(store / "artifacts"))
    with tracker.run("champion") as run:
        tracker.log_model(estimator, X.head(2))
    register(uri, run.info.run_id, "bench", "champion")
    _, built = timed(prepare, "models:/bench@champion", uri)
    print(f"trained on {len(X)} statements in {seconds:.1f} s; lean artefact built in {built:.1f} s", flush=True)
    return uri, "models:/bench@champion"


# ----------------------------------------------------------------------------- cold start
PROBE = """import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - started
if code:
    sys.exit(code)
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def cold(uri: str, model_uri: str, repeats: int) -> None:
    print("\n## Cold start: stance predict \"<one statement>\" in a new process\n")
    print("| path | median s | min s | max s | peak memory MB | runs |")
    print("|---|---:|---:|---:|---:|---:|")
    stance = str(Path(sys.executable).with_name("stance"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    for name, extra, runs in (("lean fp32", [], repeats), ("lean int8", ["--int8"], repeats),
                              ("MLflow (--mlflow)", ["--mlflow"], max(3, repeats // 2))):
        times, memory = [], []
        for _ in range(runs):
            # A small intermediate process starts each run, so the peak memory is the command's
            # own (a child forked straight from this process would count this process's pages).
            out = subprocess.run([sys.executable, "-c", PROBE, stance, "predict", "-m", model_uri, "--tracking-uri",
                                  uri, "-f", "csv", *extra, STATEMENT], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"stance predict failed: {out.stderr.strip()}")
            seconds, peak_kb = out.stdout.split()
            times.append(float(seconds))
            memory.append(int(peak_kb) / 1024)
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | "
              f"{max(memory):.0f} | {runs} |", flush=True)


# ----------------------------------------------------------------------------- throughput
def matmul_gflops(threads: int) -> float:
    import numpy as np

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = 0.0
    for _ in range(5):
        _, seconds = timed(np.matmul, a, a)
        best = max(best, 2 * 2048**3 / seconds / 1e9)
    return best


def encoder_flops(encoder_dir: Path, pretrained: str | None, texts: list[str]) -> float:
    """FLOPs the encoder spends on these texts: per token and layer, the projections and the
    feed-forward block (2 FLOPs a multiply-add) plus attention over the statement's tokens."""
    from stance.serving.onnx.inference import OnnxEncoder
    from stance.models.encoders import sentence_encoder

    config = sentence_encoder(pretrained, "cpu")[0].auto_model.config
    h, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    encoder = OnnxEncoder(encoder_dir)
    total = 0.0
    for tokens in encoder.token_counts(texts):
        tokens = min(tokens, encoder.max_seq_length)
        total += layers * (tokens * 2 * (4 * h * h + 2 * h * inner) + 2 * 2 * tokens * tokens * h)
    return total


class Table:
    def __init__(self, n: int, limit: float):
        self.n, self.limit, self.rows = n, limit, []

    def add(self, name: str, seconds: float, differ: str = "-") -> None:
        rate = self.n / seconds
        self.rows.append((name, rate, 100 * rate / self.limit, seconds, differ))
        print(f"  {name}: {rate:.0f} statements/s", flush=True)

    def print(self) -> None:
        print("\n| path | statements/s | % of the CPU limit | seconds | labels differing from lean fp32 |")
        print("|---|---:|---:|---:|---:|")
        for name, rate, share, seconds, differ in self.rows:
            print(f"| {name} | {rate:.0f} | {share:.0f}% | {seconds:.1f} | {differ} |")


def encoders(table: Table, texts: list[str], folder: Path, pretrained: str | None, device: str) -> None:
    """The sentence encoder alone: ONNX Runtime as the lean path runs it, and the usual ways."""
    import numpy as np
    import torch
    from transformers import pipeline

    from stance.serving.onnx.inference import OnnxEncoder
    from stance.models.encoders import resolve, sentence_encoder

    for precision in ("fp32", "int8"):
        encoder = OnnxEncoder(folder, precision)
        _, seconds = timed(encoder.encode, texts)
        table.add(f"encoder only: ONNX Runtime {precision}, CPU (lean path)", seconds)
    st = sentence_encoder(pretrained, device)
    st.encode(texts[:64], batch_size=32)
    with torch.inference_mode():
        _, seconds = timed(st.encode, texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    table.add(f"encoder only: sentence-transformers encode, batch 32, {device}", seconds)
    if device.startswith("cuda"):
        st.half()
        with torch.inference_mode():
            _, seconds = timed(st.encode, texts, batch_size=128, convert_to_numpy=True, show_progress_bar=False)
        table.add(f"encoder only: sentence-transformers encode, fp16, batch 128, {device}", seconds)
        st.float()
    extractor = pipeline("feature-extraction", model=resolve(pretrained)[0], device=device,
                         tokenizer_kwargs={"truncation": True, "max_length": 256})

    def pipeline_vectors():
        out = []
        for start in range(0, len(texts), 256):  # in chunks: the pipeline returns every token's vector
            for item in extractor(texts[start : start + 256], batch_size=32, return_tensors=True):
                vector = item[0].float().mean(dim=0).numpy()
                out.append(vector / np.linalg.norm(vector))
        return out

    with torch.inference_mode():
        _, seconds = timed(pipeline_vectors)
    table.add(f"encoder only: transformers feature-extraction pipeline, batch 32, {device}", seconds)


def limit_for(texts: list[str], folder: Path, pretrained: str | None) -> float:
    import torch

    gflops = matmul_gflops(torch.get_num_threads())
    flops = encoder_flops(folder, pretrained, texts)
    limit = len(texts) / (flops / (gflops * 1e9))
    print(f"\n## Throughput: {len(texts)} statements, {os.cpu_count()} cores, {torch.get_num_threads()} threads\n")
    print(f"measured float32 matrix multiply: {gflops:.0f} GFLOP/s; the encoder needs "
          f"{flops / len(texts) / 1e9:.2f} GFLOP a statement here, so the CPU limit is {limit:.0f} statements/s\n")
    return limit


def throughput(uri: str, model_uri: str, n: int, device: str) -> None:
    from stance.serving.onnx.cache import artefact_dir
    from stance.serving.onnx.lookup import resolve_ref
    from stance.serving.predict import classify, load

    texts = make_statements(n)
    folder = artefact_dir(resolve_ref(model_uri, uri)) / "encoder0"
    table = Table(n, limit_for(texts, folder, None))
    encoders(table, texts, folder, None, device)
    reference = None
    for name, lean, precision in (("whole model: lean fp32 (stance predict)", True, "fp32"),
                                  ("whole model: lean int8 (stance predict --int8)", True, "int8"),
                                  ("whole model: MLflow pyfunc (stance predict --mlflow)", False, "fp32")):
        load(model_uri, uri, lean, precision)  # loading is timed under cold start
        out, seconds = timed(classify, texts, model_uri, uri, progress=False, lean=lean, precision=precision)
        labels = [r["label"] for r in out]
        reference = reference or labels
        table.add(name, seconds, str(sum(a != b for a, b in zip(labels, reference))))
    table.print()


def encoders_only(n: int, device: str, pretrained: str | None, cache: Path) -> None:
    """The encoder comparison without MLflow (for a bare GPU machine): export, then time."""
    from stance.serving.onnx.export import encoder_folder

    folder, seconds = timed(encoder_folder, pretrained, cache)
    print(f"exported the encoder to ONNX (fp32 and int8) in {seconds:.1f} s")
    texts = make_statements(n)
    table = Table(n, limit_for(texts, folder, pretrained))
    encoders(table, texts, folder, pretrained, device)
    table.print()


# ----------------------------------------------------------------------------- int8 accuracy
def _lean_scores(estimator, X, cache: Path, name: str):
    from stance.serving.onnx.export import write_artefact
    from stance.serving.onnx.inference import LeanModel

    folder = cache / name
    write_artefact(estimator, folder, {"run_id": name, "source": name}, cache)
    return {precision: LeanModel(folder, precision).predict_proba(X["text"].tolist(), X["target"].tolist())
            for precision in ("fp32", "int8")}


def int8_accuracy(cache: Path) -> None:
    import numpy as np

    from stance.data import load_corpus
    from stance.experiment.engine import as_xy
    from stance.evaluation.metrics import fold_metrics
    from stance.models import TfidfEmbeddingClassifier

    print("\n## int8 against fp32: accuracy\n")
    articles = load_corpus(GOLD)["train"].to_pandas()
    Xw, yw = as_xy(load_corpus(WRITTEN)["train"])
    Xa, ya = as_xy(load_corpus(GOLD)["train"])
    scores = {"fp32": [], "int8": []}
    changed = 0
    for group in sorted(articles["group"].unique()):
        test = (articles["group"] == group).to_numpy()
        import pandas as pd

        X = pd.concat([Xa[~test], Xw], ignore_index=True)
        y = np.concatenate([ya[~test], yw])
        estimator = champion().fit(X, y)
        proba = _lean_scores(estimator, Xa[test].reset_index(drop=True), cache, f"fold-{group}")
        predicted = {p: estimator.classes_[proba[p].argmax(axis=1)] for p in proba}
        changed += int((predicted["fp32"] != predicted["int8"]).sum())
        for p in proba:
            scores[p].append(fold_metrics(ya[test], predicted[p])["macro_f1"])
    fp32, int8 = np.mean(scores["fp32"]), np.mean(scores["int8"])
    print(f"leave-one-article-out macro-F1 (mean of {len(scores['fp32'])} folds): fp32 {fp32:.4f}, int8 {int8:.4f}, "
          f"change {int8 - fp32:+.4f}; {changed} of {len(articles)} labels changed")

    names = {"abortion": "Legalization of Abortion", "atheism": "Atheism",
             "climate": "Climate Change is a Real Concern", "feminist": "Feminist Movement",
             "hillary": "Hillary Clinton"}
    tweeteval = load_corpus(ROOT.parent / "shared/data/tweeteval-stance", target_names=names)
    X, y = as_xy(tweeteval["train"])
    Xt, yt = as_xy(tweeteval["test"])
    estimator = TfidfEmbeddingClassifier(classifier="svm", per_target=True, C=3.0, device="cpu").fit(X, y)
    proba = _lean_scores(estimator, Xt, cache, "tweeteval")
    f_avg = {p: fold_metrics(yt, estimator.classes_[proba[p].argmax(axis=1)])["f_avg"] for p in proba}
    differ = int((proba["fp32"].argmax(axis=1) != proba["int8"].argmax(axis=1)).sum())
    print(f"TweetEval test F_avg (tfidf_embed_svm per target, C=3, MiniLM): fp32 {100 * f_avg['fp32']:.2f}, "
          f"int8 {100 * f_avg['int8']:.2f}, change {100 * (f_avg['int8'] - f_avg['fp32']):+.2f} points; "
          f"{differ} of {len(yt)} labels changed")


# ----------------------------------------------------------------------------- serving latency
def serve_latency(uri: str, model_uri: str, requests: int) -> None:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stance = str(Path(sys.executable).with_name("stance"))
    server = subprocess.Popen([stance, "serve", "-m", model_uri, "--tracking-uri", uri, "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    texts = make_statements(32, seed=1)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("stance serve did not start") from None
                time.sleep(0.2)
        print(f"\n## stance serve latency ({requests} sequential requests each)\n")
        print("| statements a request | p50 ms | p99 ms | statements/s |")
        print("|---:|---:|---:|---:|")
        for size in (1, 32):
            latencies = []
            for k in range(requests + 5):
                batch = [{"text": f"{t} ({k})"} for t in texts[:size]]  # new text: no cached vectors
                body = json.dumps({"statements": batch}).encode()
                request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                _, seconds = timed(lambda: urllib.request.urlopen(request, timeout=60).read())
                if k >= 5:  # warm-up requests are not counted
                    latencies.append(seconds * 1000)
            latencies.sort()
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
            print(f"| {size} | {p50:.1f} | {p99:.1f} | {size * 1000 / statistics.mean(latencies):.0f} |", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="cold,throughput,int8,serve")
    parser.add_argument("--n", type=int, default=10_000, help="statements for the throughput part")
    parser.add_argument("--repeats", type=int, default=7, help="cold starts to time")
    parser.add_argument("--requests", type=int, default=200, help="requests per size for the serve part")
    parser.add_argument("--device", default="cpu", help="device for sentence-transformers and the pipeline")
    parser.add_argument("--pretrained", default=None, help="encoder folder for --parts encoders (default: packaged)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts == {"encoders"}:  # no MLflow, no training: the encoder comparison alone
        home = Path(tempfile.mkdtemp(prefix="stance-lean-bench-"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        encoders_only(args.n, args.device, args.pretrained, home)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    home = Path(tempfile.mkdtemp(prefix="stance-lean-bench-"))
    os.environ["STANCE_LEAN_CACHE"] = str(home / "lean")
    import logging

    logging.basicConfig(level=logging.WARNING)
    uri, model_uri = setup(home)
    if "cold" in parts:
        cold(uri, model_uri, args.repeats)
    if "throughput" in parts:
        throughput(uri, model_uri, args.n, args.device)
    if "int8" in parts:
        int8_accuracy(home / "lean")
    if "serve" in parts:
        serve_latency(uri, model_uri, args.requests)
    print(f"\nstore and artefacts: {home}")


if __name__ == "__main__":
    main()
