"""Where lean artefacts live and when one may be used.

The MLflow store stays the source of truth. A model URI is first resolved to the run and source
it names now (:mod:`stance.serving.onnx.lookup`, without MLflow); the artefact for that run and source
lives in ``$STANCE_LEAN_CACHE`` (default ``$STANCE_CACHE/lean``, i.e. ``~/.cache/stance/lean``).
It is used only when its manifest names the same run and source and every file it needs
matches the checksum recorded in MLflow for that run when the artefact was built (a run tag, read
as cheaply as the URI: :func:`stance.serving.onnx.lookup.recorded_checksums`), never a checksum kept
beside the files; otherwise it is rebuilt from the logged model (with one log line saying why),
never used as it is. Building an artefact records its checksums when MLflow has none for it yet,
or other ones (an export on another machine or library version may differ byte for byte).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from stance.serving.onnx.export import EXPORT, MANIFEST, sha256
from stance.serving.onnx.lookup import ModelRef, checksum_tag, recorded_checksums, resolve_ref, source_key
from stance.serving.onnx.inference import ONNX_FILE, LeanModel

log = logging.getLogger(__name__)


def cache_root() -> Path:
    from stance.io import cache_dir

    return Path(os.environ.get("STANCE_LEAN_CACHE") or cache_dir() / "lean")


def artefact_dir(ref: ModelRef) -> Path:
    """One folder per (run, model source): what a model version points at, which never changes."""
    return cache_root() / f"{ref.run_id}-{source_key(ref.source)}"


def _source(ref: ModelRef) -> dict:
    return {k: v for k, v in asdict(ref).items() if v is not None}


def _read_manifest(path: Path) -> tuple[dict | None, str | None]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, "unreadable manifest"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("source"), dict):
        return None, "malformed manifest"
    return manifest, None


def _needed(recorded: dict, precision: str) -> list[str]:
    """The files a load at ``precision`` reads: all but the graphs, and each folder's graph at that
    precision, or its fp32 graph where that copy was not kept (the loader falls back to it)."""
    graphs: dict[str, list[str]] = {}
    for name in recorded:
        if name.endswith(".onnx"):
            graphs.setdefault(name.rpartition("/")[0], []).append(name)
    needed = [name for name in recorded if not name.endswith(".onnx")]
    for folder, names in graphs.items():
        wanted = f"{folder}/{ONNX_FILE[precision]}"
        needed.append(wanted if wanted in names else f"{folder}/{ONNX_FILE['fp32']}")
    return needed


def _mismatch(folder: Path, names: list[str], recorded: dict) -> str | None:
    for name in names:
        if not (folder / name).is_file() or sha256(folder / name) != recorded[name]:
            return f"{name} does not match its checksum"
    return None


def check(folder: Path, ref: ModelRef, precision: str) -> tuple[dict | None, str | None]:
    """``(manifest, None)`` when the artefact may be used, ``(None, why not)`` otherwise."""
    manifest, problem, pending = check_deferred(folder, ref, precision)
    if pending is not None and (problem := pending.result()) is not None:
        return None, problem
    return manifest, problem


def check_deferred(folder: Path, ref: ModelRef, precision: str):
    """:func:`check`, with the graphs' checksums computed in a thread: ``(manifest, problem, pending)``,
    ``pending`` a future of the graphs' problem (None when they match), or None. The caller may load
    the graphs meanwhile (on two cores a cold start then takes the longer of the two, not their sum)
    and must not use them before ``pending`` resolves to None."""
    path = folder / MANIFEST
    if not path.is_file():
        return None, "no artefact yet", None
    manifest, problem = _read_manifest(path)
    if manifest is None:
        return None, problem, None
    source = manifest["source"]
    if (source.get("run_id"), source.get("source")) != (ref.run_id, ref.source):
        return None, "built for another model", None
    if manifest.get("export", 1) < EXPORT:
        return None, "exported by an earlier version of stance", None
    if not manifest.get("exportable", True):
        return manifest, None, None
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return None, "the manifest lists no files", None
    recorded = recorded_checksums(ref)
    if recorded is None:
        return None, f"no checksums recorded in MLflow for run {ref.run_id}", None
    needed = _needed(recorded, precision)
    problem = _mismatch(folder, [n for n in needed if not n.endswith(".onnx")], recorded)
    if problem is not None:
        return None, problem, None
    if files != recorded:
        return None, "the manifest does not match the checksums recorded in MLflow", None
    graphs = [n for n in needed if n.endswith(".onnx")]
    if not graphs:
        return manifest, None, None
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)  # hashlib releases the GIL: this runs beside the load
    pending = pool.submit(_mismatch, folder, graphs, recorded)
    pool.shutdown(wait=False)  # its thread ends with the task
    return manifest, None, pending


def _record(ref: ModelRef, files: dict) -> None:
    from stance.errors import StanceError
    from stance.tracking.registry import record_lean_checksums

    try:
        record_lean_checksums(ref.tracking_uri, ref.run_id, checksum_tag(ref.source), files)
    except StanceError as exc:  # e.g. a read-only store: this artefact was just built from MLflow
        log.warning("lean artefact for %s: %s; it is rebuilt on each use until they are recorded",
                    ref.model_uri, exc)


def rebuild_artefact(ref: ModelRef, folder: Path):
    """Export the logged model behind ``ref`` into ``folder`` (or mark it as having no lean form)
    and record its checksums in MLflow; returns ``(manifest, pyfunc model)``. Imports MLflow:
    this is the slow, one-time path. The model is read from MLflow's artifacts; a sentence encoder
    exported before is reused only when its files match their checksums, and exported again when
    the result differs from what MLflow recorded in its encoder files."""
    from stance.serving.onnx.export import write_artefact, write_marker
    from stance.errors import NotExportable
    from stance.tracking.registry import load_model

    model = load_model(ref.model_uri, ref.tracking_uri)
    estimator = model.unwrap_python_model().estimator
    try:
        manifest = write_artefact(estimator, folder, _source(ref), cache_root())
    except NotExportable as exc:
        write_marker(folder, _source(ref), str(exc))
        return {"exportable": False, "reason": str(exc)}, model
    recorded = recorded_checksums(ref)
    if recorded is not None and manifest["files"] != recorded:
        shared = tuple(f"{name}/" for name in manifest.get("encoders", []))
        differs = sorted(n for n in set(recorded) | set(manifest["files"])
                         if n.startswith(shared) and recorded.get(n) != manifest["files"].get(n))
        if differs:
            log.warning("lean artefact for %s: %s differs from the checksum recorded in MLflow; "
                        "exporting its encoders again", ref.model_uri, differs[0])
            manifest = write_artefact(estimator, folder, _source(ref), cache_root(), fresh=True)
    if manifest["files"] != recorded:
        _record(ref, manifest["files"])
    return manifest, model


def open_lean(model_uri: str, tracking_uri: str, precision: str = "fp32", build_missing: bool = True):
    """``(LeanModel or None, pyfunc model or None, notice or None)`` for a model URI.

    A LeanModel when the artefact is (or can be made) valid; otherwise the pyfunc model loaded
    through MLflow, with a one-line notice saying why. ``(None, None, None)`` when the URI cannot
    be resolved cheaply: the caller loads it through MLflow (which reports any error).
    """
    ref = resolve_ref(model_uri, tracking_uri)
    if ref is None:
        return None, None, None
    folder = artefact_dir(ref)
    manifest, problem, pending = check_deferred(folder, ref, precision)
    if pending is not None:  # load the graphs while their checksums are computed; use them only if they match
        lean = LeanModel(folder, precision)
        problem = pending.result()
        if problem is None:
            return lean, None, None
        manifest = None
    model = None
    if manifest is None:
        if not build_missing:
            return None, None, None
        if problem != "no artefact yet":
            log.warning("lean artefact for %s: %s; rebuilding it", model_uri, problem)
        else:
            log.info("building the lean artefact for %s (once per model version)", model_uri)
        try:
            manifest, model = rebuild_artefact(ref, folder)
        except OSError as exc:  # e.g. a read-only cache: predict all the same, the slow way
            from stance.tracking.registry import load_model

            reason = f"cannot write the lean artefact in {cache_root()} ({exc.strerror or exc})"
            return None, load_model(ref.model_uri, ref.tracking_uri), f"{reason}: predicting through MLflow"
    if not manifest.get("exportable", True):
        if model is None:
            from stance.tracking.registry import load_model

            model = load_model(ref.model_uri, ref.tracking_uri)
        return None, model, f"{manifest.get('reason', 'no lean export')}: predicting through MLflow"
    return LeanModel(folder, precision), None, None


def prepare(model_uri: str, tracking_uri: str) -> str:
    """Build (or check) the lean artefact of a model now, e.g. right after registering it;
    returns a one-line description."""
    ref = resolve_ref(model_uri, tracking_uri)
    if ref is None:
        return f"no lean artefact for {model_uri}: this store or URI is read through MLflow"
    folder = artefact_dir(ref)
    manifest, _ = check(folder, ref, "fp32")
    if manifest is None:
        manifest, _ = rebuild_artefact(ref, folder)
    if not manifest.get("exportable", True):
        return f"no lean artefact for {model_uri} ({manifest.get('reason')})"
    return f"lean artefact for {model_uri}: {folder}"
