"""A Label Studio ML backend: the champion's pre-labels, and retraining on the labels people save.

Label Studio (1.23) calls an ML backend over HTTP; this app answers as the ``label-studio-ml`` SDK's does:

* ``GET /``, ``GET /health``: ``{"status": "UP", "model_class": ..., "model_version": ..., "training": ...}``;
* ``POST /setup`` (on connecting, and before each prediction round) answers ``{"model_version": ...}``;
  a label config without ``<Choices name="stance" toName="text">`` is a 400;
* ``POST /predict``: ``{"tasks": [{"id": ..., "data": {"text": ..., "target": ...}}, ...]}`` answers
  ``{"results": [{"result": [<the stance choice>], "score": p, "model_version": ...}, ...]}`` in task order;
* ``POST /webhook``: ``ANNOTATION_CREATED``/``ANNOTATION_UPDATED`` put the task's statement and label in
  ``<labels_dir>/project-<id>.jsonl`` (replacing its older label) and schedule a retraining;
  ``START_TRAINING`` schedules one; other actions are answered 200 and ignored. The older
  ``POST /train`` (tasks with annotations) does the same.

Labels are read by :func:`stance.annotation.labelstudio.import_export`, as ``stance labelstudio import``
reads an export: from Label Studio's API when its URL and a key are known, else from the webhooks.
Retraining runs in one background thread, one at a time, while requests are answered; an event
during a training schedules one more. The training is the injected ``retrain(project_id,
labels_file)`` (the CLI wires the engine and the registry); then the model is reloaded if its
alias moved. Bad requests are 4xx with one line, as in :mod:`stance.serving.server`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from stance.errors import StanceError
from stance.serving.http_limits import BadRequest, Limits, check_json, decode_json
from stance.serving.server import Gate, Server, Service, _error, _json, _read_body

log = logging.getLogger(__name__)

#: Webhook actions that retrain; any other is answered 200 and ignored.
TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING")
#: What ``/health`` calls the model (the SDK names its model class there).
MODEL_CLASS = "StanceChampion"
#: Seconds to wait for Label Studio's API.
API_TIMEOUT = 60.0

Retrain = Callable[[str, Path], dict]


# ----------------------------------------------------------------------------- requests and answers
def project_id(value: Any) -> str:
    """Label Studio's project id from ``"<id>.<created timestamp>"``, an integer, or a project object."""
    if isinstance(value, dict):
        value = value.get("id")
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    number = text.split(".", 1)[0]
    if not number.isdigit():
        raise BadRequest("no project id: 'project' must be '<id>.<timestamp>', an integer or {\"id\": ...}")
    return str(int(number))


def check_label_config(schema: Any) -> None:
    """The project's label config must have the stance choices over the statement (the config of
    ``stance labelstudio export``); a BadRequest says what is missing."""
    from stance.annotation.labelstudio import CHOICE, TEXT

    if not isinstance(schema, str) or not schema.strip():
        raise BadRequest("no label config: 'schema' must be the project's label config (XML)")
    tags = [m.group(0) for m in re.finditer(r"<Choices\b[^>]*>", schema)]
    if not any(f'name="{CHOICE}"' in t and f'toName="{TEXT}"' in t for t in tags):
        raise BadRequest(f'the label config has no <Choices name="{CHOICE}" toName="{TEXT}"> '
                         "(use the config.xml of stance labelstudio export)")


def task_rows(payload: Any, default_target: str | None, max_tasks: int) -> list[dict]:
    """Statement rows (id, text, target) of a ``/predict`` body's tasks; a BadRequest names the bad task."""
    from stance.annotation.labelstudio import TEXT
    from stance.serving.rows import statement_row

    tasks = payload.get("tasks") if isinstance(payload, dict) else None
    if not isinstance(tasks, list):
        raise BadRequest("expected {\"tasks\": [{\"data\": {\"text\": ...}}, ...]}")
    if len(tasks) > max_tasks:
        raise BadRequest(f"too many tasks ({len(tasks)}; at most {max_tasks} a request)",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    check_json(payload)
    rows = []
    for number, task in enumerate(tasks, start=1):
        where = f"task {task.get('id', number) if isinstance(task, dict) else number}"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise BadRequest(f"{where}: no 'data' object")
        text, target = data.get(TEXT), data.get("target")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"{where}: data.{TEXT} must be a non-blank string")
        if target is not None and not isinstance(target, str):
            raise BadRequest(f"{where}: data.target must be a string")
        rows.append(statement_row(text, task.get("id"), target, number, default_target))
    return rows


def prediction(predicted: dict, model_version: str) -> dict:
    """One task's prediction as Label Studio stores it: the stance choice, its probability as the score."""
    from stance.annotation.labelstudio import CHOICE, TEXT

    return {"result": [{"from_name": CHOICE, "to_name": TEXT, "type": "choices",
                        "value": {"choices": [predicted["label"]]}}],
            "score": round(float(predicted["confidence"]), 4), "model_version": model_version}


def version_name(model_uri: str, version: str | None) -> str:
    """What Label Studio shows as the model version: ``NAME/VERSION`` for a registered model
    (it changes when the alias moves, so tasks get the new model's predictions), else the URI."""
    if version is None or not model_uri.startswith("models:/"):
        return model_uri
    rest = model_uri[len("models:/"):]
    return f"{rest.partition('@')[0] if '@' in rest else rest.rpartition('/')[0]}/{version}"


# ----------------------------------------------------------------------------- labels
def read_labels(tasks: list, annotator: str, default_target: str, where: str) -> list[dict]:
    """Annotation records of tasks with annotations (an export, or one webhook's task), read by
    :func:`stance.annotation.labelstudio.import_export`; a statement without a target gets
    ``default_target``. ``where`` names the source in its errors."""
    from stance.annotation.labelstudio import import_export

    with tempfile.TemporaryDirectory(prefix="stance-ls-") as scratch:
        path = Path(scratch) / where.replace("/", "_")
        path.write_text(json.dumps(tasks), encoding="utf-8")
        try:
            records, _ = import_export(path, annotator)
        except StanceError as exc:
            raise StanceError(f"{where}: {exc.reason}") from None
    return [{**r, "target": r["target"] or default_target} for r in records]


def fetch_export(url: str, api_key: str, project: str, timeout: float = API_TIMEOUT) -> list:
    """A project's annotated tasks from Label Studio's API (its JSON export), with the key as a token."""
    request = urllib.request.Request(f"{url.rstrip('/')}/api/projects/{project}/export?exportType=JSON",
                                     headers={"Authorization": f"Token {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            exported = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StanceError(f"cannot read project {project}'s annotations from {url} ({str(exc)[:200]})") from None
    if not isinstance(exported, list):
        raise StanceError(f"{url}: project {project}'s export is not a list of tasks")
    return exported


class LabelFiles:
    """One JSONL file of labelled statements per Label Studio project, written whole and atomically."""

    def __init__(self, folder: str | Path):
        self.folder, self.lock = Path(folder), threading.Lock()

    def path(self, project: str) -> Path:
        return self.folder / f"project-{project}.jsonl"

    def read(self, project: str) -> list[dict]:
        from stance.io import read_jsonl

        path = self.path(project)
        return [record for _, record in read_jsonl(path)] if path.is_file() else []

    def write(self, project: str, records: list[dict], merge: bool) -> Path:
        """Replace the project's labels with ``records`` or (``merge``) update them by statement id."""
        from stance.io import atomic_write_text, dumps_jsonl

        with self.lock:
            by_id = {r["id"]: r for r in self.read(project)} if merge else {}
            by_id.update({r["id"]: r for r in records})
            atomic_write_text(self.path(project), dumps_jsonl(list(by_id.values())))
        return self.path(project)


# ----------------------------------------------------------------------------- retraining
class Trainer:
    """Retrains in one background thread, one project at a time; a request while it trains
    queues one more training of that project (never more than one waiting per project)."""

    def __init__(self, retrain: Retrain, service: Service, source: LabelSource):
        self.retrain, self.service, self.source = retrain, service, source
        self.lock, self.thread = threading.Lock(), None
        self.queued: list[str] = []  # projects waiting for a training, and the one training now
        self.running: str | None = None
        self.done, self.last = 0, None  # trainings ended, and the last one's outcome (or error)

    def schedule(self, project: str) -> None:
        with self.lock:
            if project not in self.queued:
                self.queued.append(project)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, name="stance-retrain", daemon=True)
                self.thread.start()

    def status(self) -> dict:
        return {"running": self.running, "queued": list(self.queued), "done": self.done, "last": self.last}

    def wait(self, timeout: float = 600.0) -> None:
        """Block until nothing is queued or training (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while (self.queued or self.running) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _work(self) -> None:
        while True:
            with self.lock:
                if not self.queued:
                    self.running, self.thread = None, None
                    return
                self.running = self.queued.pop(0)
            self._train(self.running)

    def _train(self, project: str) -> None:
        started = time.monotonic()
        outcome: dict[str, Any] = {"project": project}
        try:
            path = self.source.refresh(project)
            if path is None:
                outcome["error"] = f"no labels of project {project} yet"
            else:
                outcome.update(self.retrain(project, path))
                outcome["reloaded"] = self.service.refresh()
        except StanceError as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - a failed training must not stop the server
            log.exception("retraining on project %s failed", project)
            outcome["error"] = f"internal error ({type(exc).__name__}; see the server log)"
        outcome["seconds"] = round(time.monotonic() - started, 2)
        if "error" in outcome:
            log.warning("retraining on project %s: %s", project, outcome["error"])
        else:
            log.warning("retrained on project %s: %s", project, outcome.get("reason", outcome))
        self.last, self.done = outcome, self.done + 1


class LabelSource:
    """Where a project's labels come from before a training: Label Studio's API when its URL and
    a key are known (options, ``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY``, else what ``/setup``
    sent), else the file the webhooks filled."""

    def __init__(self, labels: LabelFiles, url: str | None, api_key: str | None, annotator: str,
                 default_target: str):
        self.labels, self.url, self.api_key = labels, url, api_key
        self.annotator, self.default_target = annotator, default_target
        self.from_setup: dict[str, tuple[str, str]] = {}

    def refresh(self, project: str) -> Path | None:
        url, key = (self.url, self.api_key) if self.url and self.api_key else self.from_setup.get(project, (None, None))
        if url and key:
            tasks = fetch_export(url, key, project)
            records = read_labels(tasks, self.annotator, self.default_target, f"project {project} export")
            return self.labels.write(project, records, merge=False)
        path = self.labels.path(project)
        return path if path.is_file() else None


# ----------------------------------------------------------------------------- the app
def make_backend_app(service: Service, retrain: Retrain, labels_dir: str | Path = "annotations/labelstudio", *,
                     label_studio_url: str | None = None, api_key: str | None = None,
                     annotator: str = "labelstudio", default_target: str | None = None,
                     limits: Limits = Limits()) -> Starlette:
    """The ASGI app of the ML backend (see the module docstring); run it with :class:`Server`.

    Parameters
    ----------
    service : stance.serving.server.Service
        The model served, and how to reload it when its alias moves.
    retrain : callable
        ``retrain(project_id, labels_file) -> dict``, run in the background thread; its dict (run,
        version, promoted and why) is ``/health``'s ``training.last``, a StanceError one line there.
    labels_dir : str or Path
        Folder of the ``project-<id>.jsonl`` label files.
    label_studio_url, api_key : str, optional
        Label Studio's API, read for a project's labels before each training.
    annotator, default_target : str
        The records' annotator; the target of a task without one (default: the project's).
    limits : stance.serving.http_limits.Limits
        Body and batch sizes and timeouts, as ``stance serve`` takes; ``app.state.trainer`` is the :class:`Trainer`.
    """
    from stance.labels import FOREIGN_TROOPS_TARGET

    default_target = default_target or FOREIGN_TROOPS_TARGET
    files = LabelFiles(labels_dir)
    source = LabelSource(files, label_studio_url, api_key, annotator, default_target)
    trainer = Trainer(retrain, service, source)
    gate = Gate(limits)
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="stance-ml-backend")

    def model_version() -> str:
        return version_name(service.model_uri, service.current.version)

    async def read_json(request: Request, held: list[int]):
        return decode_json(await _read_body(request, gate, limits, held))

    def endpoint(handler):
        async def wrapped(request: Request) -> Response:
            held = [0]
            try:
                status, answer = await handler(request, held)
                return Response(_json(answer), status_code=status, media_type="application/json")
            except BadRequest as exc:
                return _error(exc.status, str(exc), close=exc.close)
            except StanceError as exc:
                return _error(422, str(exc))
            except ClientDisconnect:
                return _error(400, "client disconnected", close=True)
            except Exception:  # a bug, not the caller's: logged here, answered without details
                log.exception("request failed")
                return _error(500, "internal error (see the server log)")
            finally:
                gate.buffered -= held[0]
        return wrapped

    async def health(request: Request, held) -> tuple[int, dict]:
        info = service.health()
        return 200, {"status": "UP", "model_class": MODEL_CLASS, "model_version": model_version(),
                     "model": info["model"], "version": info["version"], "run_id": info["run_id"],
                     "runtime": info["runtime"], "training": trainer.status()}

    async def setup(request: Request, held) -> tuple[int, dict]:
        payload = await read_json(request, held)
        if not isinstance(payload, dict):
            raise BadRequest("expected a JSON object with 'project' and 'schema'")
        project = project_id(payload.get("project"))
        check_label_config(payload.get("schema"))
        hostname, token = payload.get("hostname"), payload.get("access_token")
        if isinstance(hostname, str) and hostname.startswith(("http://", "https://")) and isinstance(token, str) and token:
            source.from_setup[project] = (hostname, token)
        return 200, {"model_version": model_version()}

    async def predict(request: Request, held) -> tuple[int, dict]:
        from stance.serving.predict import score

        payload = await read_json(request, held)
        rows = task_rows(payload, default_target, limits.max_statements)
        now, version = service.current, model_version()
        if not rows:
            return 200, {"results": [], "model_version": version}
        scored = await asyncio.get_running_loop().run_in_executor(pool, lambda: score(now.model, rows, progress=False))
        return 200, {"results": [prediction(p, version) for p in scored], "model_version": version}

    async def webhook(request: Request, held) -> tuple[int, dict]:
        payload = await read_json(request, held)
        action = payload.get("action") if isinstance(payload, dict) else None
        if not isinstance(action, str):
            raise BadRequest("expected a JSON object with an 'action'")
        if action not in TRAIN_EVENTS:
            return 200, {"status": "ignored", "action": action}
        project = project_id(payload.get("project"))
        if action != "START_TRAINING":
            task, annotation = payload.get("task"), payload.get("annotation")
            if not isinstance(task, dict) or not isinstance(annotation, dict):
                raise BadRequest(f"{action}: expected 'task' and 'annotation' objects")
            if annotation.get("was_cancelled"):
                return 200, {"status": "ignored", "action": action, "reason": "the annotation was skipped"}
            records = read_labels([{**task, "annotations": [annotation]}], annotator, default_target,
                                  f"{action} of task {task.get('id')}")
            await asyncio.get_running_loop().run_in_executor(pool, files.write, project, records, True)
        trainer.schedule(project)
        return 200, {"status": "ok", "action": action, "training": "scheduled"}

    async def train(request: Request, held) -> tuple[int, dict]:
        payload = await read_json(request, held)
        tasks = payload.get("annotations") if isinstance(payload, dict) else None
        if not isinstance(tasks, list) or not tasks:
            raise BadRequest("expected {\"annotations\": [<tasks with annotations>], \"project\": ...}")
        project = project_id(payload.get("project"))
        records = read_labels(tasks, annotator, default_target, f"project {project} /train")
        await asyncio.get_running_loop().run_in_executor(pool, files.write, project, records, False)
        trainer.schedule(project)
        return 201, {"job": f"project-{project}-{trainer.done + 1}", "status": "scheduled"}

    async def versions(request: Request, held) -> tuple[int, dict]:
        return 200, {"versions": [model_version()]}

    async def not_found(request: Request, exc) -> Response:
        return _error(404, f"no endpoint {request.url.path} (GET /health, POST /setup, /predict, /webhook, /train)")

    async def not_allowed(request: Request, exc) -> Response:
        return _error(405, f"{request.method} is not allowed on {request.url.path}")

    routes = [Route(p, endpoint(health), methods=["GET"]) for p in ("/", "/health")]
    routes += [Route("/versions", endpoint(versions), methods=["GET"])]
    routes += [Route(f"/{name}", endpoint(handler), methods=["POST"])
               for name, handler in (("setup", setup), ("predict", predict), ("webhook", webhook), ("train", train))]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.trainer, app.state.service, app.state.labels = trainer, service, files
    return app


def make_backend_server(service: Service, retrain: Retrain, host: str = "127.0.0.1", port: int = 9090, *,
                        limits: Limits = Limits(), **options: Any) -> Server:
    """A bound server for :func:`make_backend_app` (``options`` go to it); ``run()`` or ``start()`` it."""
    return Server(make_backend_app(service, retrain, limits=limits, **options), host, port, limits)
