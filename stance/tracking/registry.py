"""The MLflow Model Registry: register a run's model under a name, move an alias to it,
pick the best run of an experiment, load a model by URI with clear errors (from a copy, so that
reading never writes into the store), and record the checksums of a run's lean artefact."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from stance.tracking.store import CHAMPION_ALIAS, REGISTERED_MODEL, sqlite_path
from stance.errors import StanceError
from stance.evaluation.objective import Objective
from stance.tracking.tags import TAG_EVAL, TAG_MODEL_URI, TAG_ROLE
from stance.tracking.store import read_only_problem, resolve_uri, sqlite_problem


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    alias: str
    run_id: str

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias} = version {self.version} (run {self.run_id})"


def _client(tracking_uri: str) -> MlflowClient:
    uri = resolve_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def cleanup_runs(tracking_uri: str) -> list[str]:
    """Mark every RUNNING run whose process on this host is gone as FAILED; their ids."""
    from stance.tracking.liveness import reap

    require_store(tracking_uri, write=True)
    return reap(_client(tracking_uri))


def best_run(tracking_uri: str, experiment: str, objective: Objective | str = Objective(),
             parent_run_id: str | None = None):
    """The FINISHED run that scores best by ``objective`` (optionally among one sweep's runs).

    A metric name alone (``macro_f1``, ``f_avg``, ``accuracy``) is maximised, as its mean over folds.
    """
    objective = objective if isinstance(objective, Objective) else Objective(objective)
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise StanceError(f"no experiment '{experiment}' in {tracking_uri}")
    query = "attributes.status = 'FINISHED'"
    if parent_run_id:
        query += f" and tags.mlflow.parentRunId = '{parent_run_id}'"
    runs = [r for r in client.search_runs([found.experiment_id], filter_string=query, max_results=10000)
            if r.data.tags.get(TAG_ROLE) not in ("sweep", "comparison")]
    objective = objective.for_runs([r.data.metrics for r in runs])  # no yardstick scores: the fold mean
    metric = objective.key
    runs = [r for r in runs if metric in r.data.metrics]
    if not runs:
        raise StanceError(f"no finished run with metric '{metric}' in experiment '{experiment}'")
    return objective.best(runs, lambda r: r.data.metrics)


def register(tracking_uri: str, run_id: str, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS) -> Registered:
    """Register the model logged by ``run_id`` as a new version of ``name`` and point ``alias`` at it."""
    require_store(tracking_uri, write=True)
    client = _client(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise StanceError(f"no run '{run_id}' in {tracking_uri}") from None
    model_uri = run.data.tags.get(TAG_MODEL_URI, f"runs:/{run_id}/model")
    try:
        version = mlflow.register_model(model_uri, name)
    except MlflowException as exc:
        raise StanceError(f"cannot register the model of run {run_id}: {str(exc).splitlines()[0]}") from None
    client.set_registered_model_alias(name, alias, version.version)
    return Registered(name, str(version.version), alias, run_id)


def champion_run(tracking_uri: str, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS):
    """The run whose model ``models:/name@alias`` is, or None while no version holds the alias."""
    client = _client(tracking_uri)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    try:
        return client.get_run(version.run_id) if version.run_id else None
    except MlflowException:
        return None


#: Tags two runs must share to be scored on the same statements the same way.
SAME_EVALUATION = ("dataset_fingerprint", TAG_EVAL)


def challenge(tracking_uri: str, run, objective: Objective = Objective(), name: str = REGISTERED_MODEL,
              alias: str = CHAMPION_ALIAS) -> tuple[bool, str]:
    """Whether ``run`` should take ``name@alias`` from the current champion, and why, in one line.

    Yes when no model holds the alias, or when the champion was scored on the same statements
    with the same evaluation and ``run`` scores better by ``objective``. A champion scored on
    other statements (another corpus, other folds) is never replaced by a run that cannot be
    compared with it.
    """
    current = champion_run(tracking_uri, name, alias)
    key = objective.key
    mine = run.data.metrics[key]
    if current is None:
        return True, f"no model holds models:/{name}@{alias} yet: {key} {mine:.3f} takes it"
    theirs = current.data.metrics.get(key)
    differs = [t for t in SAME_EVALUATION if current.data.tags.get(t) != run.data.tags.get(t)]
    if differs or theirs is None:
        why = f"differs in {', '.join(differs)}" if differs else f"has no {key}"
        return False, (f"kept models:/{name}@{alias} (run {current.info.run_id}): it {why}, so run "
                       f"{run.info.run_id} cannot be compared with it")
    if objective.sign() * (mine - theirs) > 0:
        return True, f"{key} {mine:.3f} beats the champion's {theirs:.3f} (run {current.info.run_id})"
    return False, (f"kept models:/{name}@{alias}: this sweep's best {key} {mine:.3f} does not beat the "
                   f"champion's {theirs:.3f} (run {current.info.run_id})")


def spark_udf(spark, model_uri: str, tracking_uri: str):
    """``mlflow.pyfunc.spark_udf`` of a model in this store (``stance predict --spark --spark-engine
    pyfunc``): a struct of the pyfunc's columns, the label and one probability per label."""
    from stance.labels import LABELS

    _client(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    result = ", ".join(["label string", *(f"{label} double" for label in LABELS)])
    try:
        return mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result, env_manager="local")
    except (MlflowException, OSError) as exc:
        reason = (str(exc) or type(exc).__name__).splitlines()[0][:200]
        raise StanceError(f"cannot load model '{model_uri}' ({reason})") from None


def require_store(tracking_uri: str, write: bool = False) -> None:
    """Read-only commands never create a store: a sqlite store that is not there is an error
    saying where it was looked for. ``write``: the store must also be writable."""
    path = sqlite_path(tracking_uri)
    if path is not None and not path.is_file():
        raise StanceError(f"no MLflow store at {path} (run the main job there first, or point "
                          "--tracking-uri or MLFLOW_TRACKING_URI at an existing store)")
    problem = sqlite_problem(tracking_uri) or (read_only_problem(tracking_uri) if write else None)
    if problem:
        raise StanceError(problem)


def registered_models(tracking_uri: str) -> list[str]:
    """``name@alias`` (or just ``name``) for every registered model."""
    require_store(tracking_uri)
    listed = []
    for model in _client(tracking_uri).search_registered_models():
        aliases = sorted(getattr(model, "aliases", {}) or {})
        listed.extend(f"{model.name}@{a}" for a in aliases) if aliases else listed.append(model.name)
    return sorted(listed)


def _load_copy(model_uri: str) -> Any:
    """The stance model behind ``model_uri``, read from a temporary copy of its folder (removed with
    the model): loading a registered model in place would rewrite its ``registered_model_meta`` file
    inside a local artifact store, and a read-only command must leave the store as it found it.

    Nothing in the copy runs: MLflow's own pyfunc loader would execute the model's code file
    (``pyfunc_entry.py``) from the store, so the estimator artifact its ``MLmodel`` names is
    read directly, through :func:`stance.models.base.load_estimator` (skops with trusted types)."""
    import yaml

    from stance.tracking.pyfunc import LoadedStanceModel

    scratch = tempfile.mkdtemp(prefix="stance-model-")
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch)
        with open(os.path.join(local, "MLmodel"), encoding="utf-8") as handle:
            spec = yaml.safe_load(handle) or {}
        flavor = (spec.get("flavors") or {}).get("python_function") or {}
        estimator = ((flavor.get("artifacts") or {}).get("estimator") or {}).get("path")
        if not isinstance(estimator, str) or os.path.isabs(estimator) or ".." in estimator.split("/"):
            raise StanceError(f"'{model_uri}' is not a stance model (its MLmodel names no estimator artifact)")
        model = LoadedStanceModel.from_folder(os.path.join(local, estimator))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    weakref.finalize(model, shutil.rmtree, scratch, True)
    return model


def record_lean_checksums(tracking_uri: str, run_id: str, tag: str, files: dict[str, str]) -> None:
    """Record the sha256 of every file of ``run_id``'s lean artefact in the run tag ``tag`` (see
    :func:`stance.serving.onnx.lookup.checksum_tag`): the reference a cached copy is checked against."""
    require_store(tracking_uri, write=True)
    try:
        _client(tracking_uri).set_tag(run_id, tag, json.dumps(files, sort_keys=True, separators=(",", ":")))
    except MlflowException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StanceError(f"cannot record the lean checksums of run {run_id} ({reason[:200]})") from None


def load_model(model_uri: str, tracking_uri: str) -> Any:
    """Load a pyfunc model by any MLflow URI; an unknown URI lists what is registered."""
    require_store(tracking_uri)
    _client(tracking_uri)
    try:
        return _load_copy(model_uri)
    except (MlflowException, OSError) as exc:
        try:
            known = registered_models(tracking_uri)
        except MlflowException:
            known = []
        listing = ", ".join(f"models:/{m}" for m in known) or "none (run the main job, or stance register)"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StanceError(f"cannot load model '{model_uri}' ({reason[:200]}); registered models: {listing}") from None


def resolve_version(model_uri: str, tracking_uri: str) -> tuple[str | None, str | None]:
    """``(version, run_id)`` a registry URI (``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``)
    names now, read-only; ``(None, None)`` for any other URI. An unknown name, alias or version
    is a StanceError."""
    if not model_uri.startswith("models:/"):
        return None, None
    rest = model_uri[len("models:/"):]
    require_store(tracking_uri)
    client = _client(tracking_uri)
    try:
        if "@" in rest:
            name, _, alias = rest.partition("@")
            found = client.get_model_version_by_alias(name, alias)
        else:
            name, _, version = rest.rpartition("/")
            found = client.get_model_version(name, version)
    except MlflowException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StanceError(f"cannot resolve '{model_uri}' ({reason[:200]})") from None
    return str(found.version), found.run_id or None
