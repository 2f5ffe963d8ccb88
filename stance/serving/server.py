"""``stance serve``: a long-running HTTP service for callers that send many small requests.

The model is loaded once (its lean artefact when it has one, see :mod:`stance.serving.onnx`), then:

* ``GET /health``: ``{"status": "ok", "model": ..., "version": ..., "run_id": ..., "runtime": ...,
  "labels": [...]}`` (``version``: the registered version the URI resolves to, None for ``runs:/``);
* ``POST /predict``: a JSON body ``{"statements": [{"text": ..., "target": ..., "id": ...}, ...]}``
  (or a list of strings, or ``{"text": ...}`` for one statement) answers
  ``{"predictions": [{id, text, target, label, confidence, p_<label>...}, ...]}``, the rows
  ``stance predict`` gives;
* bad input is a 4xx with ``{"error": "<one line>"}`` (:mod:`stance.serving.http_limits`); an
  internal failure is a 500 with a generic message: no response body carries a stack trace.

Built on uvicorn and starlette: one event loop reads requests (a client that does not send its
request head or body within the read timeout is cut off), and scoring runs in a small pool of
threads (:attr:`Limits.workers`) behind a bounded queue: a request that finds the queue full, or
the memory budget for request bodies spent, gets a 503 with ``Retry-After``. Serving
``models:/NAME@ALIAS``, the server asks the store every ``reload_every`` seconds which version
the alias names and, when it moved, loads that version and swaps it in at once (requests
already scoring finish on the old model).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from stance.labels import LABELS
from stance.serving.http_limits import MAX_BODY_BYTES, MAX_STATEMENTS, BadRequest, Limits, read_rows

__all__ = ["MAX_BODY_BYTES", "MAX_STATEMENTS", "Limits", "Service", "make_app", "make_server", "Server"]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the model served
@dataclass(frozen=True)
class Loaded:
    """A model and the registered version and run it was read from (None where not known)."""

    model: object
    version: str | None
    run_id: str | None


def resolve_version(model_uri: str, tracking_uri: str) -> tuple[str | None, str | None]:
    """``(version, run_id)`` a URI names now: asked cheaply (a read-only sqlite query or the
    server's REST API, as the lean path asks), else through the registry (MLflow)."""
    from stance.serving.onnx.lookup import resolve_ref

    ref = resolve_ref(model_uri, tracking_uri)
    if ref is not None:
        return ref.version, ref.run_id
    if model_uri.startswith("models:/"):
        from stance.tracking.registry import resolve_version as ask_registry

        return ask_registry(model_uri, tracking_uri)
    return None, None


def following(model_uri: str) -> str | None:
    """The registered model's name when ``model_uri`` is ``models:/NAME@ALIAS`` (an alias moves)."""
    if model_uri.startswith("models:/") and "@" in model_uri:
        return model_uri[len("models:/"):].partition("@")[0] or None
    return None


class Service:
    """The model served now (swapped whole when the alias moves) and how to load another."""

    def __init__(self, model, model_uri: str, tracking_uri: str | None = None, lean: bool = True,
                 precision: str = "fp32", version: str | None = None, run_id: str | None = None):
        from stance.tracking.store import default_tracking_uri

        self.model_uri, self.tracking_uri = model_uri, tracking_uri or default_tracking_uri()
        self.lean, self.precision = lean, precision
        if version is None and run_id is None:
            version, run_id = self._resolve()
        self.current = Loaded(model, version, run_id)

    def _resolve(self) -> tuple[str | None, str | None]:
        try:
            return resolve_version(self.model_uri, self.tracking_uri)
        except Exception as exc:  # noqa: BLE001 - /health then says "unknown", serving goes on
            log.warning("cannot tell which version %s is: %s", self.model_uri, str(exc).splitlines()[0][:200])
            return None, None

    def health(self) -> dict:
        now = self.current
        return {"status": "ok", "model": self.model_uri, "version": now.version, "run_id": now.run_id,
                "runtime": now.model.how, "labels": list(LABELS)}

    def refresh(self) -> bool:
        """Load the version the alias names now if it moved (the store is asked); whether it did."""
        name = following(self.model_uri)
        version, run_id = self._resolve()
        if name is None or version is None or version == self.current.version:
            return False
        from stance.serving.predict import load

        pinned = f"models:/{name}/{version}"  # the version just read, even if the alias moves again
        model = getattr(load, "__wrapped__", load)(pinned, self.tracking_uri, self.lean, self.precision)
        old, self.current = self.current.version, Loaded(model, version, run_id)  # one assignment: atomic
        log.warning("%s moved from version %s to %s: now serving version %s", self.model_uri, old, version, version)
        return True

    def answer(self, now: Loaded, body: bytes, limits: Limits) -> bytes:
        """The response body for a prediction request (runs in a scoring thread)."""
        from stance.serving.predict import score

        rows = read_rows(body, limits)
        return _json({"predictions": score(now.model, rows, progress=False)})


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _error(status: int, message: str, close: bool = False, retry_after: int | None = None) -> Response:
    headers = {"Connection": "close"} if close else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(_json({"error": message}), status_code=int(status), headers=headers,
                    media_type="application/json")


# ----------------------------------------------------------------------------- the ASGI app
class Gate:
    """Requests admitted (waiting or scoring) and body bytes held, counted on the event loop."""

    def __init__(self, limits: Limits):
        self.limits, self.pending, self.buffered = limits, 0, 0


#: An oversized body is read and dropped up to this size before the 413, so that a client that sends
#: its whole body before reading an answer gets the 413 rather than a reset connection.
DRAIN_BYTES = 64 * 1024 * 1024


async def _read_body(request: Request, gate: Gate, limits: Limits, held: list[int]) -> bytes:
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else 0
    if size > DRAIN_BYTES:
        raise BadRequest(f"body too large ({size} bytes; at most {limits.max_body_bytes})",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE, close=True)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.read_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:  # drop it, keep reading (up to DRAIN_BYTES)
                    chunks = []
                    if size > DRAIN_BYTES:
                        break
                    continue
                gate.buffered += len(chunk)
                held[0] += len(chunk)
                if gate.buffered > limits.buffered_bytes:
                    raise BadRequest("busy: too many request bodies in memory; retry shortly",
                                     HTTPStatus.SERVICE_UNAVAILABLE, close=True)
                chunks.append(chunk)
    except TimeoutError:
        raise BadRequest(f"request body not received within {limits.read_timeout:g} s",
                         HTTPStatus.REQUEST_TIMEOUT, close=True) from None
    if size > limits.max_body_bytes:
        raise BadRequest(f"body too large ({size if size <= DRAIN_BYTES else 'over ' + str(DRAIN_BYTES)} bytes; "
                         f"at most {limits.max_body_bytes})", HTTPStatus.REQUEST_ENTITY_TOO_LARGE, close=True)
    return b"".join(chunks)


def make_app(model, model_uri: str, tracking_uri: str | None = None, *, reload_every: float = 0,
             lean: bool = True, precision: str = "fp32", limits: Limits = Limits(),
             service: Service | None = None) -> Starlette:
    """The ASGI app serving a loaded model (:func:`stance.serving.predict.load`); run it with
    :func:`make_server`. ``reload_every`` (seconds, 0: never): how often a ``models:/NAME@ALIAS``
    URI is checked for a moved alias; ``lean`` and ``precision`` load the new version as ``model`` was."""
    service = service or Service(model, model_uri, tracking_uri, lean, precision)
    gate = Gate(limits)
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="stance-score")

    async def health(request: Request) -> Response:
        return Response(_json(service.health()), media_type="application/json")

    async def predict(request: Request) -> Response:
        if gate.pending >= limits.workers + limits.queue:
            return _error(503, f"busy: {gate.pending} requests waiting; retry shortly", close=True, retry_after=1)
        gate.pending += 1
        held = [0]
        try:
            body = await _read_body(request, gate, limits, held)
            now = service.current  # this request finishes on this model, even if the alias moves
            answer = await asyncio.get_running_loop().run_in_executor(pool, service.answer, now, body, limits)
            return Response(answer, media_type="application/json")
        except BadRequest as exc:
            retry = 1 if exc.status == HTTPStatus.SERVICE_UNAVAILABLE else None
            return _error(exc.status, str(exc), close=exc.close, retry_after=retry)
        except ClientDisconnect:
            return _error(400, "client disconnected", close=True)
        except Exception:  # a bug, not the caller's: log it here, answer without details
            log.exception("request failed")
            return _error(500, "internal error (see the server log)")
        finally:
            gate.pending -= 1
            gate.buffered -= held[0]

    async def not_found(request: Request, exc) -> Response:
        return _error(404, f"no endpoint {request.url.path} (GET /health, POST /predict)")

    async def not_allowed(request: Request, exc) -> Response:
        return _error(405, f"{request.method} is not allowed on {request.url.path} (GET /health, POST /predict)")

    async def follow() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(reload_every)
            try:
                await loop.run_in_executor(None, service.refresh)
            except Exception as exc:  # noqa: BLE001 - keep serving the model we have
                log.warning("could not load the new version of %s (still serving version %s): %s",
                            service.model_uri, service.current.version, str(exc).splitlines()[0][:200])

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(follow()) if reload_every and following(model_uri) else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            pool.shutdown(wait=False, cancel_futures=True)

    routes = [Route(path, health, methods=["GET"]) for path in ("/health", "/ping")]
    routes += [Route(path, predict, methods=["POST"]) for path in ("/predict", "/invocations")]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed}, lifespan=lifespan)
    app.state.service, app.state.gate = service, gate
    return app


# ----------------------------------------------------------------------------- the HTTP server
class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a deadline for each request head: a connection that
    opens and sends nothing, or half a request line or headers, is closed after
    ``config.head_timeout`` seconds (uvicorn's keep-alive timer stops at the first byte)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_timer = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.config.head_timeout, self._expire)

    def _expire(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class Server:
    """A bound socket and the uvicorn server for an app: ``run()`` blocks (the CLI),
    ``start()`` serves from a thread until ``stop()`` (tests, benchmarks)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, limits: Limits = Limits()):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
        except OSError:
            self.socket.close()
            raise
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(app, http=GuardedH11, lifespan="on", log_config=None, log_level="warning",
                                access_log=False, backlog=limits.backlog, timeout_keep_alive=limits.keep_alive,
                                timeout_graceful_shutdown=5)
        config.head_timeout = limits.read_timeout
        self.uvicorn = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def server_port(self) -> int:
        return self.port

    def run(self) -> None:
        self.uvicorn.run(sockets=[self.socket])

    def run_until_interrupted(self) -> None:
        """:meth:`run` in the foreground (the CLI): Ctrl-C stops it quietly and the socket is closed."""
        try:
            self.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.socket.close()

    def start(self, timeout: float = 30.0) -> "Server":
        self.thread = threading.Thread(target=self.run, name="stance-serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.uvicorn.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.uvicorn.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)
        self.socket.close()


def make_server(model, model_uri: str, host: str = "127.0.0.1", port: int = 8080, *, tracking_uri: str | None = None,
                reload_every: float = 0, lean: bool = True, precision: str = "fp32",
                limits: Limits = Limits()) -> Server:
    """A server for a loaded model, bound (an OSError when the address is taken); ``run()`` or ``start()`` it."""
    app = make_app(model, model_uri, tracking_uri, reload_every=reload_every, lean=lean, precision=precision,
                   limits=limits)
    return Server(app, host, port, limits)
