"""The lean predictor: a model's inference from plain arrays and ONNX, with numpy, onnxruntime
and tokenizers only (no scikit-learn, pandas, torch or MLflow: a cold start stays well under
a second of imports).

An artefact folder holds ``spec.json`` (the feature blocks and heads, arrays by name),
``arrays.npz``, one folder per sentence encoder (``model.onnx``, ``model.w8.onnx``,
``model.int8.onnx``, ``tokenizer.json``, ``encoder.json``: :mod:`stance.serving.precision` says which runs) and ``manifest.json`` (source and checksums, checked by
:mod:`stance.serving.onnx.cache`, not here). The arithmetic follows scikit-learn's own (TF-IDF with
sublinear tf and l2 norm, one-hot, linear and calibrated one-vs-rest heads), and a test holds
it to the estimator it came from.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import Counter
from pathlib import Path

import numpy as np

from stance.labels import target_or
from stance.scores import decision_proba, softmax
from stance.serving.precision import PRECISIONS
from stance.text import prepare

#: The artefact layout this code reads; a different one is rebuilt, never guessed at.
FORMAT = 1
ONNX_FILE = {"fp32": "model.onnx", "w8": "model.w8.onnx", "int8": "model.int8.onnx"}
#: Statements per encoder call: sorted by length, so padding stays small.
BATCH = 16
_WHITE_SPACES = re.compile(r"\s\s+")


def holds_copy(folder: Path, encoders, precision: str) -> bool:
    """Whether every encoder folder of an artefact holds its graph at ``precision`` (else it runs fp32)."""
    return all((Path(folder) / name / ONNX_FILE[precision]).is_file() for name in encoders)


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- sentence encoders
class OnnxEncoder:
    """A sentence-transformers encoder (transformer, pooling, normalisation) exported to ONNX."""

    def __init__(self, folder: Path, precision: str = "fp32", threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        info = json.loads((folder / "encoder.json").read_text())
        if precision != "fp32" and not (folder / ONNX_FILE[precision]).is_file():
            import logging

            why = info.get("dropped", {}).get(precision) or ("int8 changed its labels" if info.get("kind") ==
                                                              "classifier" else "not exported")
            logging.getLogger("stance.serving.predict").warning(
                "no %s copy of this %s (%s): predicting in fp32", precision,
                "fine-tuned classifier" if info.get("kind") == "classifier" else "sentence encoder", why)
            precision = "fp32"
        self.precision = precision
        self.max_seq_length = int(info["max_seq_length"])
        self.dimension = int(info["dimension"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / ONNX_FILE[precision]), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._cache: dict[str, tuple[np.ndarray, bool]] = {}
        self._lock = threading.Lock()  # the server scores in several threads: the cache is shared

    def token_counts(self, texts: list[str]) -> list[int]:
        """Each text's length in tokens, uncut (as sentence-transformers counts it)."""
        self.tokenizer.no_truncation()
        try:
            return [len(e.ids) for e in self.tokenizer.encode_batch([t.strip() for t in texts])]
        finally:
            self.tokenizer.enable_truncation(self.max_seq_length)

    def _run(self, texts: list) -> tuple[np.ndarray, list[bool]]:
        """The graph's output for a batch, and which inputs the tokenizer cut to ``max_seq_length``
        (read from the same encodings: each text is tokenised once)."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = encoding.ids, 1, encoding.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return (self.session.run(None, {name: feed[name] for name in self.inputs})[0],
                [bool(e.overflowing) for e in encodings])

    def encode(self, texts: list[str], batch: int = BATCH) -> np.ndarray:
        """Sentence vectors (float32), in length-sorted batches; repeated texts are encoded once."""
        return self.encode_cut(texts, batch)[0]

    def encode_cut(self, texts: list[str], batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Sentence vectors (float32) and which texts were cut to ``max_seq_length``."""
        stripped = [t.strip() for t in texts]
        with self._lock:  # what is known now (another thread may clear the cache meanwhile)
            known = {t: self._cache[t] for t in stripped if t in self._cache}
        unique = list(dict.fromkeys(t for t in stripped if t not in known))
        computed = {}
        order = sorted(range(len(unique)), key=lambda k: len(unique[k]))
        for start in range(0, len(order), batch):
            chunk = [unique[k] for k in order[start : start + batch]]
            vectors, cut = self._run(chunk)
            computed.update((text, (vector, was_cut)) for text, vector, was_cut in zip(chunk, vectors, cut))
        if not stripped:
            return np.zeros((0, self.dimension), dtype=np.float32), np.zeros(0, dtype=bool)
        found = [known[t] if t in known else computed[t] for t in stripped]
        with self._lock:
            if len(self._cache) + len(computed) > 100_000:  # bounded: start afresh
                self._cache.clear()
            self._cache.update(computed)
        return np.stack([v for v, _ in found]), np.array([c for _, c in found], dtype=bool)

    def logits(self, texts: list[str], pairs: list[str] | None = None, batch: int = BATCH) -> np.ndarray:
        """A fine-tuned classifier's logits for each text (and its pair, e.g. the target), in
        length-sorted batches, as the estimator tokenises them (``tokenizer(texts, pairs)``)."""
        return self.logits_cut(texts, pairs, batch)[0]

    def logits_cut(self, texts: list[str], pairs: list[str] | None = None,
                   batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`logits`, and which inputs were cut to ``max_seq_length``."""
        inputs = list(zip(texts, pairs)) if pairs is not None else list(texts)
        out = np.zeros((len(inputs), self.dimension), dtype=np.float32)
        cut = np.zeros(len(inputs), dtype=bool)
        order = sorted(range(len(inputs)), key=lambda k: len(texts[k]) + len(pairs[k] if pairs else ""))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            out[rows], cut[rows] = self._run([inputs[k] for k in rows])
        return out, cut


# --------------------------------------------------------------------------- feature blocks
def _word_analyzer(block: dict):
    pattern = re.compile(block["token_pattern"])
    low, high = block["ngram_range"]

    def analyze(text: str) -> list[str]:
        tokens = pattern.findall(text.lower() if block["lowercase"] else text)
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    return analyze


def _char_wb_analyzer(block: dict):
    low, high = block["ngram_range"]

    def analyze(text: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", text.lower() if block["lowercase"] else text)
        grams = []
        for word in text.split():
            word = f" {word} "
            for n in range(low, high + 1):
                offset = 0
                grams.append(word[offset : offset + n])
                while offset + n < len(word):
                    offset += 1
                    grams.append(word[offset : offset + n])
                if offset == 0:  # a short word counts once
                    break
        return grams

    return analyze


def _char_analyzer(block: dict):
    low, high = block["ngram_range"]

    def analyze(text: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", text.lower() if block["lowercase"] else text)
        return [text[i : i + n] for n in range(low, min(high, len(text)) + 1) for i in range(len(text) - n + 1)]

    return analyze


ANALYZERS = {"word": _word_analyzer, "char_wb": _char_wb_analyzer, "char": _char_analyzer}


class Sparse:
    """Rows of a sparse matrix: one (indices, values) pair per statement."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray]], width: int):
        self.rows, self.width = rows, width


def tfidf(block: dict, arrays, texts: list[str]) -> Sparse:
    """scikit-learn's TfidfVectorizer.transform: counts, (1 + log) tf, idf, l2 norm."""
    vocabulary, idf = block["vocabulary"], arrays[block["idf"]]
    analyze = ANALYZERS[block["analyzer"]](block)
    rows = []
    for text in texts:
        counts = Counter(i for i in map(vocabulary.get, analyze(text)) if i is not None)
        index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if block["sublinear_tf"]:
            tf = np.log(tf) + 1.0
        values = tf * idf[index] if block["use_idf"] else tf
        norm = math.sqrt(float(values @ values))
        if block["norm"] == "l2" and norm > 0:
            values = values / norm
        order = np.argsort(index)
        rows.append((index[order], values[order]))
    return Sparse(rows, len(idf))


def onehot(block: dict, arrays, values: list[str]) -> np.ndarray:
    categories = {c: k for k, c in enumerate(block["categories"])}
    out = np.zeros((len(values), len(categories)))
    for row, value in enumerate(values):
        if value in categories:
            out[row, categories[value]] = 1.0
    return out


# --------------------------------------------------------------------------- heads
def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def linear_scores(blocks: list, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``X @ coef.T + intercept`` over feature blocks laid side by side (sparse or dense)."""
    n = len(blocks[0].rows) if isinstance(blocks[0], Sparse) else blocks[0].shape[0]
    scores = np.tile(np.asarray(intercept, dtype=np.float64), (n, 1))
    offset = 0
    for block in blocks:
        if isinstance(block, Sparse):
            for row, (index, values) in enumerate(block.rows):
                if len(index):
                    scores[row] += coef[:, offset + index] @ values
            offset += block.width
        else:
            scores += block @ coef[:, offset : offset + block.shape[1]].T
            offset += block.shape[1]
    return scores


def head_proba(head: dict, arrays, blocks: list, n: int) -> np.ndarray:
    """Probabilities over the head's own classes (``head["classes"]`` indexes the model's)."""
    kind = head["kind"]
    if kind == "softmax":  # the logits of a fine-tuned classifier (one block)
        return softmax(blocks[0])
    if kind == "constant":
        return np.tile(arrays[head["proba"]], (n, 1))
    if kind == "logistic":
        scores = linear_scores(blocks, arrays[head["coef"]], arrays[head["intercept"]])
        if scores.shape[1] == 1:
            positive = _expit(scores[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return softmax(scores)
    if kind == "decision_softmax":
        return decision_proba(linear_scores(blocks, arrays[head["coef"]], arrays[head["intercept"]]))
    if kind == "calibrated_ovr":  # CalibratedClassifierCV(method="sigmoid"): the mean over its folds
        n_classes = len(head["classes"])
        mean = np.zeros((n, n_classes))
        for member in head["members"]:
            scores = linear_scores(blocks, arrays[member["coef"]], arrays[member["intercept"]])
            proba = np.zeros((n, n_classes))
            for column, (position, a, b) in enumerate(zip(member["positions"], member["a"], member["b"])):
                position = position + 1 if n_classes == 2 else position
                proba[:, position] = _expit(-(a * scores[:, column] + b))
            if n_classes == 2:
                proba[:, 0] = 1.0 - proba[:, 1]
            else:
                total = proba.sum(axis=1, keepdims=True)
                proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / n_classes), where=total != 0)
            mean += proba
        return mean / len(head["members"])
    raise ValueError(f"unknown head kind {kind!r}")


# --------------------------------------------------------------------------- the model
class LeanModel:
    """A model loaded from a lean artefact: ``predict_proba(texts, targets)`` like the estimator's."""

    def __init__(self, folder: str | Path, precision: str = "fp32", threads: int | None = None):
        folder = Path(folder)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.folder, self.precision = folder, precision
        self.spec = json.loads((folder / "spec.json").read_text())
        if self.spec.get("format") != FORMAT:
            raise ValueError(f"artefact format {self.spec.get('format')} is not {FORMAT}")
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            self.arrays = {name: stored[name] for name in stored.files}
        self.classes_ = np.array(self.spec["classes"])
        self.class_prior_ = np.asarray(self.spec["class_prior"])
        self.default_target_ = self.spec["default_target"]
        self.encoders = {name: OnnxEncoder(folder / name, precision, threads) for name in self.spec["encoders"]}
        if any(e.precision != precision for e in self.encoders.values()):  # no such copy: fp32
            self.precision = "fp32"

    # the estimator's interface, as far as prediction needs it
    def _inputs(self, texts: list[str], targets: list[str | None]) -> tuple[list[str], list[str]]:
        default = self.default_target_
        return [str(t) for t in texts], [target_or(t, default) for t in targets]

    def _blocks(self, model: dict, texts: list[str], targets: list[str]) -> tuple[list, np.ndarray]:
        """The feature blocks of ``model``, and which statements an encoder cut to its limit."""
        blocks, cut = [], np.zeros(len(texts), dtype=bool)
        for block in model["features"]:
            column = texts if block["column"] == "text" else targets
            if block["kind"] == "tfidf":
                blocks.append(tfidf(block, self.arrays, column))
            elif block["kind"] == "onehot":
                blocks.append(onehot(block, self.arrays, column))
            elif block["kind"] == "logits":  # a fine-tuned classifier: its logits, read by a softmax head
                pairs = targets if block.get("pair") else None
                logits, was_cut = self.encoders[block["encoder"]].logits_cut(column, pairs)
                blocks.append(logits.astype(np.float64))
                cut |= was_cut
            elif block["kind"] == "embedding":
                if block.get("split_hashtags"):  # as the embedder did in training (stance.text)
                    column = prepare(column, hashtags=True)
                vectors, was_cut = self.encoders[block["encoder"]].encode_cut(column)
                blocks.append(vectors.astype(np.float64) * block["weight"])
                if block["column"] == "text":  # a long target is not the statement's problem
                    cut |= was_cut
            else:
                raise ValueError(f"unknown feature block {block['kind']!r}")
        return blocks, cut

    def _proba_one(self, model: dict, texts: list[str], targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
        blocks, cut = self._blocks(model, texts, targets) if model["features"] else ([], np.zeros(len(texts), bool))
        proba = head_proba(model["head"], self.arrays, blocks, len(texts))
        full = np.zeros((len(texts), len(self.classes_)))
        full[:, model["head"]["classes"]] = proba
        return full, cut

    def predict_proba(self, texts: list[str], targets: list[str | None] | None = None) -> np.ndarray:
        """Probabilities, columns in the order of ``classes_``, as the estimator's ``predict_proba``."""
        return self.predict_proba_cut(texts, targets)[0]

    def predict_proba_cut(self, texts: list[str],
                          targets: list[str | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba`, and which statements were longer than :meth:`input_limit` (cut)."""
        texts, targets = self._inputs(texts, targets if targets is not None else [None] * len(texts))
        models = self.spec["models"]
        if not texts:
            return np.zeros((0, len(self.classes_))), np.zeros(0, dtype=bool)
        if "*" in models:
            return self._proba_one(models["*"], texts, targets)
        routed = [t if t in models else self.spec["route_default"] for t in targets]
        full, cut = np.zeros((len(texts), len(self.classes_))), np.zeros(len(texts), dtype=bool)
        for target in sorted(set(routed)):
            rows = [k for k, t in enumerate(routed) if t == target]
            full[rows], cut[rows] = self._proba_one(models[target], [texts[k] for k in rows],
                                                    [targets[k] for k in rows])
        return full, cut

    def input_limit(self) -> int | None:
        limits = [e.max_seq_length for e in self.encoders.values()]
        return min(limits) if limits else None
