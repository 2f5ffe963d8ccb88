"""Write a lean artefact: a fitted model's spec and arrays, its sentence encoders in ONNX
(fp32, 8-bit weights and int8: :mod:`stance.serving.precision`), and a manifest with the source and a checksum of every file (the reference those
checksums are checked against is the copy recorded in MLflow: :mod:`stance.serving.onnx.cache`).

An exported encoder is kept once per weights under ``encoders/<key>/`` with the checksums of its
files (``checksums.json``); it is verified against them before an artefact links to it, and
exported afresh when it does not match (or when ``fresh`` asks for it).

Exporting needs torch and onnx (it runs once per model, when it is registered or first used);
reading the artefact does not (:mod:`stance.serving.onnx.inference`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from stance.io import replace_folder

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: The checksums of an exported encoder's files, kept beside them under ``encoders/<key>/``.
ENCODER_CHECKSUMS = "checksums.json"
#: ONNX operator set of the exported encoders.
OPSET = 17
#: What this code writes; an artefact or encoder written by an earlier version is exported again.
#: 2: every graph also as ``model.w8.onnx`` (8-bit weights); reduced copies checked against fp32.
EXPORT = 2
#: 8-bit weights in blocks of this many values along the inner dimension, each with its own scale.
W8_BLOCK = 32
#: ``MatMulNBits`` accuracy level 4: each block of activations is quantised to int8 too and the
#: products summed in int32 (VNNI/AMX kernels where the CPU has them). Level 0 (float32 products)
#: has no fast 8-bit kernel in ONNX Runtime 1.32: a single statement took 0.6 s against 0.17 s.
W8_ACCURACY = 4
#: The operator set the 8-bit copy is converted to: ONNX Runtime's 4-bit lookup tables need 21.
TABLES_OPSET = 21


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(folder: Path) -> str:
    """Which encoder weights a folder holds (paths, sizes and times of its files)."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _root_logger_kept(level: int | None = None) -> Iterator[None]:
    """Run a block (at ``level``, if given) and leave the root logger's level and handlers as they
    were: ONNX Runtime's quantizers log to it, or configure it when imported."""
    root = logging.getLogger()
    handlers, previous = list(root.handlers), root.level
    if level is not None:
        root.setLevel(level)
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(previous)


def weights8(source: Path, dest: Path, tables: bool = True) -> None:
    """``source`` with 8-bit weights as ``dest``: its matrix multiplies as ``MatMulNBits`` (symmetric
    blocks of :data:`W8_BLOCK` along the inner dimension, multiplied at :data:`W8_ACCURACY`) and its
    embedding tables in 4 bits (``GatherBlockQuantized``, blocks of :data:`W8_BLOCK` along a row: ONNX
    Runtime quantizes a lookup table in 4 bits only). For the fine-tuned mpnet champion the tables were
    half the file: with them in 4 bits it loads in 0.44 s against 0.68 s, 245 MB against 333 MB, and
    keeps dev-set macro-F1 (0.8236 against 0.8233 in fp32; 6 of 329 labels differ). ``tables=False``
    keeps the tables in fp32 (the sentence encoders: their vectors feed other models, and a frozen
    MiniLM model's probabilities moved by up to 0.03 with 4-bit tables, 0.02 without)."""
    import numpy as np
    import onnx
    import onnx.version_converter

    with _root_logger_kept():  # its import calls logging.basicConfig(level=INFO)
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    quantizer = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quantizer.level
    quantizer.setLevel(logging.ERROR)  # every node it visits at INFO; the IR version it raises to 10 at WARNING
    try:
        model, converted = onnx.load(str(source)), None
        try:  # 4-bit tables need opset 21 (the quantizer would only relabel the graph, breaking e.g. ReduceL2)
            converted = onnx.version_converter.convert_version(model, TABLES_OPSET) if tables else None
        except Exception as exc:  # noqa: BLE001 - the converter raises many kinds; keep the tables in fp32
            log.warning("embedding tables kept in fp32: the graph does not convert to opset %d (%s)",
                        TABLES_OPSET, str(exc).splitlines()[0][:200])
        if converted is not None:
            with np.errstate(invalid="ignore"):  # all-zero blocks (padding rows): a zero scale, then 0
                lookups = MatMulNBitsQuantizer(converted, bits=4, block_size=W8_BLOCK, is_symmetric=True,
                                              accuracy_level=W8_ACCURACY, op_types_to_quantize=("Gather",),
                                              quant_axes=(("Gather", 1),))
                lookups.process()
            model = lookups.model.model
        weights = MatMulNBitsQuantizer(model, bits=8, block_size=W8_BLOCK, is_symmetric=True,
                                       accuracy_level=W8_ACCURACY, op_types_to_quantize=("MatMul",))
        weights.process()
        weights.model.save_model_to_file(str(dest), use_external_data_format=False)
    finally:
        quantizer.setLevel(level)


def _to_onnx(module, call, names: list[str], example, dest: Path, output: str, int8: bool = True) -> None:
    """``call(module, {name: tensor})`` as ``dest/model.onnx`` (batch and token axes dynamic), its
    8-bit-weight copy ``dest/model.w8.onnx`` and, with ``int8``, a per-channel dynamic int8 copy,
    ``dest/model.int8.onnx``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Graph(torch.nn.Module):  # keyword arguments: transformers 5 models reject positional ones
        def __init__(self):
            super().__init__()
            self.inner = module  # registered, so that its weights are the graph's parameters

        def forward(self, *inputs):
            return call(self.inner, dict(zip(names, inputs)))

    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {output: {0: "batch"}}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes the dynamic axes cover
        torch.onnx.export(Graph().eval(), tuple(example[n] for n in names), str(dest / "model.onnx"),
                          input_names=names, output_names=[output], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    weights8(dest / "model.onnx", dest / "model.w8.onnx", tables=not int8)  # 4-bit tables: classifiers
    if not int8:
        return
    # the quantizer's advice on pre-processing goes to the root logger
    with warnings.catch_warnings(), _root_logger_kept(logging.ERROR):
        quantize_dynamic(str(dest / "model.onnx"), str(dest / "model.int8.onnx"), per_channel=True,
                         weight_type=QuantType.QInt8)


def _input_names(tokenizer) -> list[str]:
    return ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in tokenizer.model_input_names
                                              else [])


def _export_onnx(pretrained: str | None, dest: Path) -> None:
    """The sentence-transformers encoder (transformer, pooling, normalisation) as one ONNX graph,
    its tokenizer set as sentence-transformers uses it, an 8-bit-weight copy and a per-channel int8 copy."""
    from stance.models.encoders import sentence_encoder

    encoder = sentence_encoder(pretrained, "cpu")
    tokenizer = encoder.tokenizer
    names = _input_names(tokenizer)
    example = tokenizer(["A first statement.", "A second, longer statement to pad against."], padding=True,
                        return_tensors="pt")
    _to_onnx(encoder, lambda inner, inputs: inner(inputs)["sentence_embedding"], names, example, dest, "embedding")
    backend = tokenizer.backend_tokenizer
    backend.no_padding()
    backend.enable_truncation(int(encoder.max_seq_length))
    backend.save(str(dest / "tokenizer.json"))
    info = {"pretrained": pretrained, "max_seq_length": int(encoder.max_seq_length),
            "dimension": int(encoder.get_embedding_dimension()), "inputs": names, "opset": OPSET}
    _write_info(dest, info)


def export_classifier(estimator, dest: Path) -> None:
    """A fine-tuned sequence classifier (``model_`` and ``tokenizer_``, as FineTuneClassifier keeps
    them) as one ONNX graph from token ids to logits, its tokenizer set to truncate as the estimator
    does, and its 8-bit-weight copy. No int8 copy: dynamic int8 quantization of a fine-tuned
    all-mpnet-base-v2 changed the label of 51% of 80 real sentences (19% with per-tensor scales) on
    a CPU without VNNI."""
    model, tokenizer = estimator.model_.float().eval().to("cpu"), estimator.tokenizer_
    names = _input_names(tokenizer)
    example = tokenizer(["A first statement.", "A second, longer statement to pad against."], ["target", "target"],
                        padding=True, return_tensors="pt")
    _to_onnx(model, lambda inner, inputs: inner(**inputs).logits, names, example, dest, "logits", int8=False)
    backend = tokenizer.backend_tokenizer
    backend.no_padding()
    backend.enable_truncation(int(estimator.max_length))  # longest_first, as tokenizer(..., truncation=True)
    backend.save(str(dest / "tokenizer.json"))
    _write_info(dest, {"kind": "classifier", "max_seq_length": int(estimator.max_length),
                       "dimension": int(model.config.num_labels), "inputs": names, "opset": OPSET,
                       "target": getattr(estimator, "default_target_", "") or "target"})


def _write_info(dest: Path, info: dict) -> None:
    """``encoder.json``, after checking the reduced copies against fp32 (:mod:`stance.serving.onnx.copies`):
    a copy that strays is deleted and the reason kept under ``dropped``."""
    from stance.serving.onnx.copies import keep_faithful_copies
    from stance.serving.onnx.inference import ONNX_FILE

    (dest / "encoder.json").write_text(json.dumps(info, indent=1))  # what the check reads
    dropped = keep_faithful_copies(dest, {p: ONNX_FILE[p] for p in ("w8", "int8")})
    for precision, why in dropped.items():
        log.warning("the %s copy of %s strays from fp32 (%s): not kept", precision,
                    info.get("pretrained") or info.get("kind", "the encoder"), why)
    (dest / "encoder.json").write_text(json.dumps({**info, "export": EXPORT, "dropped": dropped}, indent=1))


def _encoder_problem(dest: Path) -> str | None:
    """Why the exported encoder in ``dest`` may not be reused (None when every file matches)."""
    try:
        files = json.loads((dest / ENCODER_CHECKSUMS).read_text())
        present = sorted(p.name for p in dest.iterdir() if p.name != ENCODER_CHECKSUMS)
        if not isinstance(files, dict) or sorted(files) != present or "encoder.json" not in files:
            return "its checksums do not list its files"
        if json.loads((dest / "encoder.json").read_text()).get("export", 1) < EXPORT:
            return "it was exported by an earlier version"
    except (OSError, ValueError):
        return "no readable checksums"
    for name, digest in files.items():
        if sha256(dest / name) != digest:
            return f"{name} does not match its checksum"
    return None


def encoder_folder(pretrained: str | None, cache: Path, fresh: bool = False) -> Path:
    """The exported encoder for ``pretrained``, made once per weights and kept under ``cache``;
    exported again when the kept copy does not match its checksums, or with ``fresh``."""
    from stance.models.encoders import resolve

    path, _ = resolve(pretrained)
    source = Path(path)
    key = _fingerprint(source) if source.is_dir() else hashlib.sha256(path.encode()).hexdigest()[:16]
    dest = cache / "encoders" / key
    if dest.is_dir() and not fresh:
        problem = _encoder_problem(dest)
        if problem is None:
            return dest
        log.warning("exported encoder %s: %s; exporting it again", dest, problem)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    try:
        started = time.perf_counter()
        _export_onnx(pretrained, scratch)
        log.info("exported encoder %s to ONNX in %.1f s", pretrained or "packaged MiniLM", time.perf_counter() - started)
        files = {p.name: sha256(p) for p in sorted(scratch.iterdir())}
        (scratch / ENCODER_CHECKSUMS).write_text(json.dumps(files, indent=1))
        replace_folder(scratch, dest)  # or keep another process's, made in the meantime
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def write_manifest(folder: Path, source: dict, encoders: list[str] = ()) -> dict:
    """The manifest: the source, the folders holding shared sentence encoders, every file's sha256."""
    files = {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name != MANIFEST}
    manifest = {"format": 1, "export": EXPORT, "exportable": True, "source": source, "files": files, "encoders": sorted(encoders),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _save_arrays(arrays: dict, path: Path) -> None:
    """``np.savez`` with fixed times in the zip: the same arrays give the same bytes (and checksum)."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w",
                              force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)


def write_artefact(estimator, folder: Path, source: dict, cache: Path, fresh: bool = False) -> dict:
    """Export ``estimator`` into ``folder`` (replaced atomically); returns the manifest. ``fresh``:
    export its sentence encoders again rather than reuse the copies kept under ``cache``.

    Raises :class:`stance.errors.NotExportable` when the model has no lean form.
    """
    from stance.serving.onnx.spec import collect_spec

    spec, collected = collect_spec(estimator)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, pretrained in collected.encoders.items():
            exported = encoder_folder(pretrained, cache, fresh)
            (scratch / name).mkdir()
            for path in exported.iterdir():
                if path.name != ENCODER_CHECKSUMS:
                    _link_or_copy(path, scratch / name / path.name)
        for name, classifier in collected.classifiers.items():  # fine-tuned weights: this model's own
            (scratch / name).mkdir()
            started = time.perf_counter()
            export_classifier(classifier, scratch / name)
            log.info("exported the fine-tuned classifier to ONNX in %.1f s", time.perf_counter() - started)
        (scratch / "spec.json").write_text(json.dumps(spec))
        _save_arrays(collected.arrays, scratch / "arrays.npz")
        manifest = write_manifest(scratch, source, list(collected.encoders))
        replace_folder(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def write_marker(folder: Path, source: dict, reason: str) -> None:
    """Remember that this model has no lean form (so the next call goes straight to MLflow)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (scratch / MANIFEST).write_text(json.dumps({"format": 1, "export": EXPORT, "exportable": False, "reason": reason,
                                                    "source": source, "files": {}}, indent=1))
        replace_folder(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
