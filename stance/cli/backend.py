"""``stance labelstudio backend``: the champion as a Label Studio ML backend, retrained on new labels.

The HTTP side is :mod:`stance.serving.ml_backend`; this module wires its retraining step to the
experiment engine and the registry: :func:`retrain` trains a new MLflow run on the project's data
plus the Label Studio labels (the ``extra_train=labelstudio`` config: training folds only, never
a test fold), registers it as a new version, and moves the alias to it only if it beats the
current champion (:func:`stance.tracking.registry.challenge`, the rule of
``registry.only_if_better``). :func:`backend_server` loads the model and binds the server.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import click

from stance.cli.options import precision_option, tracking_uri_option, user_errors
from stance.errors import StanceError
from stance.tracking.store import CHAMPION_URI

log = logging.getLogger(__name__)

#: Where the backend writes each project's labels (``project-<id>.jsonl``).
LABELS_DIR = "annotations/labelstudio"
#: The alias a retrained version gets when it does not beat the champion.
CANDIDATE = "candidate"


def _name_alias(model_uri: str) -> tuple[str, str]:
    rest = model_uri[len("models:/"):] if model_uri.startswith("models:/") else ""
    name, _, alias = rest.partition("@")
    if not name or not alias or "/" in name:
        raise StanceError(f"the backend retrains and promotes by alias: give -m models:/NAME@ALIAS, not '{model_uri}'")
    return name, alias


def _quoted(value: str) -> str:
    """A value as a quoted Hydra override string (paths and URIs with any characters but quotes)."""
    if "'" in value or "\\" in value:
        raise StanceError(f"cannot pass '{value}' to the training config (it contains a quote or a backslash)")
    return f"'{value}'"


def _unseen(labels: Path, cfg) -> Path:
    """The labels file to train on: ``labels``, or a copy without the statements (by id or text)
    that the evaluated corpus already has, which would otherwise be trained on and tested."""
    from stance.data.splits import pooled
    from stance.experiment.estimators import instantiate_node
    from stance.io import atomic_write_text, dumps_jsonl, read_jsonl

    corpus = pooled(instantiate_node(cfg.data, "data"))
    ids, texts = set(corpus["id"]), {" ".join(t.split()).casefold() for t in corpus["text"]}
    records = [r for _, r in read_jsonl(labels)]
    kept = [r for r in records if r["id"] not in ids and " ".join(r["text"].split()).casefold() not in texts]
    if len(kept) == len(records):
        return labels
    if not kept:
        raise StanceError(f"every statement labelled in {labels} is already in the evaluated corpus: nothing new "
                          "to train on", path=labels)
    log.warning("%d labelled statements of %s are already in the evaluated corpus: trained on the other %d",
                len(records) - len(kept), labels, len(kept))
    unseen = labels.with_name(labels.stem + ".unseen.jsonl")
    atomic_write_text(unseen, dumps_jsonl(kept))
    return unseen


def retrain(project: str, labels: Path, *, model_uri: str = CHAMPION_URI, tracking_uri: str | None = None,
            overrides: tuple[str, ...] | list[str] = (), candidate_alias: str = CANDIDATE) -> dict:
    """Train a new run on the project's data plus ``labels`` and register it, promoted only if better.

    Parameters
    ----------
    project : str
        Label Studio's project id (for the log).
    labels : Path
        Annotation records (JSONL) to add to every training fold (``extra_train=labelstudio``).
    model_uri : str
        ``models:/NAME@ALIAS``: the new version is registered as NAME and takes ALIAS only if it
        beats the run ALIAS names now on the same statements (the config's objective: the
        external yardstick's score where the runs have one).
    tracking_uri : str, optional
        The store (default: ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    overrides : sequence of str
        Hydra overrides for the training (e.g. ``model=tfidf_logreg``); without ``model=...``,
        the model of the run ALIAS names now.
    candidate_alias : str
        The alias a version that is not promoted gets.

    Returns
    -------
    dict
        ``run_id``, ``version``, ``alias`` (the one it got), ``promoted`` and ``reason`` (one line).
    """
    from stance.evaluation.objective import Objective
    from stance.experiment.config import compose
    from stance.experiment.engine import train
    from stance.tracking.registry import challenge, champion_run, register
    from stance.tracking.store import default_tracking_uri
    from stance.tracking.tags import TAG_MODEL
    from stance.tracking.tracker import Tracker

    name, alias = _name_alias(model_uri)
    tracking_uri = tracking_uri or default_tracking_uri()
    given = list(overrides)
    if not any(o.startswith("model=") for o in given):
        current = champion_run(tracking_uri, name, alias)
        family = current.data.tags.get(TAG_MODEL) if current is not None else None
        if not family:
            raise StanceError(f"no model family to retrain: models:/{name}@{alias} names no stance run "
                              "(give --train-override model=...)")
        given.insert(0, f"model={family}")
    if not any(o.startswith("tracking.uri=") for o in given):
        given.append(f"tracking.uri={_quoted(tracking_uri)}")

    def config(path: Path):
        return compose([*given, "extra_train=labelstudio", f"extra_train.path=[{_quoted(str(path.resolve()))}]"])

    cfg = config(labels)
    path = _unseen(labels, cfg)
    if path != labels:
        cfg = config(path)
    store = str(cfg.tracking.uri)
    log.warning("retraining %s on project %s's labels (%s)", cfg.model.name, project, path)
    result = train(cfg, overrides=[*given, "extra_train=labelstudio", f"extra_train.path=[{path}]"])
    run = Tracker.from_config(cfg).client.get_run(result.run_id)
    objective = Objective.from_config(cfg).for_runs([run.data.metrics])
    promoted, reason = challenge(store, run, objective, name, alias)
    registered = register(store, result.run_id, name, alias if promoted else candidate_alias)
    return {"run_id": result.run_id, "version": registered.version, "alias": registered.alias,
            "promoted": promoted, "reason": reason, "labels": str(path)}


def backend_server(model_uri: str = CHAMPION_URI, tracking_uri: str | None = None, host: str = "127.0.0.1",
                   port: int = 9090, *, labels_dir: str | Path = LABELS_DIR, label_studio_url: str | None = None,
                   api_key: str | None = None, annotator: str = "labelstudio", overrides: tuple[str, ...] = (),
                   lean: bool = True, precision: str = "fp32", candidate_alias: str = CANDIDATE):
    """The ML backend for ``models:/NAME@ALIAS``, loaded and bound: ``run()`` it (or ``start()``/``stop()``).

    See :func:`stance.serving.ml_backend.make_backend_app` for the endpoints and :func:`retrain`
    for the training step; ``overrides`` go to every retraining.
    """
    from stance.serving.ml_backend import make_backend_server
    from stance.serving.predict import load
    from stance.serving.server import Service, resolve_version
    from stance.tracking.store import default_tracking_uri

    name, _ = _name_alias(model_uri)
    tracking_uri = tracking_uri or default_tracking_uri()
    version, run_id = resolve_version(model_uri, tracking_uri)
    model = load(f"models:/{name}/{version}" if version else model_uri, tracking_uri, lean=lean, precision=precision)
    service = Service(model, model_uri, tracking_uri, lean, precision, version, run_id)
    step = functools.partial(retrain, model_uri=model_uri, tracking_uri=tracking_uri, overrides=tuple(overrides),
                             candidate_alias=candidate_alias)
    try:
        return make_backend_server(service, step, host, port, labels_dir=labels_dir, label_studio_url=label_studio_url,
                                   api_key=api_key, annotator=annotator)
    except OSError as exc:
        raise StanceError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


@click.command("backend")
@click.option("-m", "--model", "model_uri", default=CHAMPION_URI, show_default=True,
              help="The registered model and alias served, retrained and promoted.")
@tracking_uri_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("-p", "--port", default=9090, show_default=True, type=int)
@click.option("--labels-dir", default=LABELS_DIR, show_default=True,
              help="Folder for the labels read from Label Studio (project-<id>.jsonl).")
@click.option("--label-studio-url", envvar="LABEL_STUDIO_URL", default=None,
              help="Label Studio's address, to read a project's annotations before training. [env: LABEL_STUDIO_URL]")
@click.option("--api-key", envvar="LABEL_STUDIO_API_KEY", default=None,
              help="A Label Studio API token. [env: LABEL_STUDIO_API_KEY]")
@click.option("--annotator", default="labelstudio", show_default=True, help="The labels' annotator field.")
@click.option("--train-override", "overrides", multiple=True,
              help="Hydra override for the retraining (repeatable), e.g. model=tfidf_logreg. "
              "[default model: the current champion's]")
@click.option("--candidate-alias", default=CANDIDATE, show_default=True,
              help="Alias of a retrained version that does not beat the champion.")
@precision_option
@click.option("--mlflow", "through_mlflow", is_flag=True, help="Load the model through MLflow, not its lean artefact.")
@user_errors
def backend_command(model_uri, tracking_uri, host, port, labels_dir, label_studio_url, api_key, annotator, overrides,
                    candidate_alias, precision, through_mlflow) -> None:
    """Serve the champion as a Label Studio ML backend: pre-labels, and retraining on saved labels.

    Connect it in Label Studio (Settings > Model, or POST /api/ml with its URL). Each saved
    annotation (webhook) retrains in the background; the new version takes the alias only if it
    beats the champion on the same statements."""
    from stance.experiment.jobs import quiet_libraries
    from stance.serving.precision import resolve

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    server = backend_server(model_uri, tracking_uri, host, port, labels_dir=labels_dir,
                            label_studio_url=label_studio_url, api_key=api_key, annotator=annotator,
                            overrides=overrides, lean=not through_mlflow, precision=resolve(precision),
                            candidate_alias=candidate_alias)
    source = f"annotations from {label_studio_url}" if label_studio_url and api_key else "annotations from webhooks"
    click.echo(f"Label Studio ML backend for {model_uri} on http://{host}:{server.port} ({source} -> {labels_dir}; "
               "Ctrl-C stops)", err=True)
    server.run_until_interrupted()
