"""``stance serve``: a long-running HTTP service for callers that send many small requests.

The model is loaded once (its lean artefact when it has one, see :mod:`stance.serving.onnx`), then:

* ``GET /health``: ``{"status": "ok", "model": ..., "runtime": ..., "labels": [...]}``;
* ``POST /predict``: a JSON body ``{"statements": [{"text": ..., "target": ..., "id": ...}, ...]}``
  (or a list of strings, or ``{"text": ...}`` for one statement) answers
  ``{"predictions": [{id, text, target, label, confidence, p_<label>...}, ...]}``, the rows
  ``stance predict`` gives;
* bad input is a 4xx with ``{"error": "<one line>"}`` (which statement, which field); an
  internal failure is a 500 with a generic message: no response body carries a stack trace.

Built on the standard library's threading HTTP server: requests are parsed in parallel and
scored one batch at a time (the encoder already uses every core).
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stance.labels import LABELS
from stance.serving.rows import statement_row

log = logging.getLogger(__name__)

#: Largest request body and batch accepted.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_STATEMENTS = 2048


class BadRequest(Exception):
    """The request is wrong (4xx): the message is the one-line answer."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


def parse_statements(payload, default_target: str | None = None) -> list[dict]:
    """Input rows from a request body; a blank or non-string text is rejected, naming it."""
    if isinstance(payload, dict) and "statements" in payload:
        items = payload["statements"]
    elif isinstance(payload, dict) and "text" in payload:
        items = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise BadRequest('expected {"statements": [...]}, a list of statements, or {"text": ...}')
    if not isinstance(items, list) or not items:
        raise BadRequest("no statements: 'statements' must be a non-empty list")
    if len(items) > MAX_STATEMENTS:
        raise BadRequest(f"too many statements ({len(items)}; at most {MAX_STATEMENTS} a request)",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    rows = []
    for number, item in enumerate(items, start=1):
        item = {"text": item} if isinstance(item, str) else item
        if not isinstance(item, dict):
            raise BadRequest(f"statement {number}: expected a string or an object with 'text'")
        text, target = item.get("text"), item.get("target")
        if not isinstance(text, str):
            raise BadRequest(f"statement {number}: 'text' must be a string")
        if not text.strip():
            raise BadRequest(f"statement {number}: blank text")
        if target is not None and not isinstance(target, str):
            raise BadRequest(f"statement {number}: 'target' must be a string")
        rows.append(statement_row(text, item.get("id"), target, number, default_target))
    return rows


class Service:
    """A loaded model and what the handler needs to answer."""

    def __init__(self, model, model_uri: str):
        self.model, self.model_uri = model, model_uri
        self.lock = threading.Lock()

    def health(self) -> dict:
        return {"status": "ok", "model": self.model_uri, "runtime": self.model.how, "labels": list(LABELS)}

    def predict(self, payload) -> dict:
        from stance.serving.predict import score

        rows = parse_statements(payload)
        with self.lock:
            return {"predictions": score(self.model, rows, progress=False)}


def make_handler(service: Service):
    class Handler(BaseHTTPRequestHandler):
        server_version = "stance"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: HTTPStatus, body: dict) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, work) -> None:
            try:
                self._send(HTTPStatus.OK, work())
            except BadRequest as exc:
                self._send(exc.status, {"error": str(exc)})
            except Exception:  # a bug, not the caller's: log it here, answer without details
                log.exception("request failed")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error (see the server log)"})

        def do_GET(self):  # noqa: N802 - the base class's naming
            if self.path.split("?")[0] in ("/health", "/ping"):
                self._answer(service.health)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {self.path} (GET /health, POST /predict)"})

        def do_POST(self):  # noqa: N802
            if self.path.split("?")[0] not in ("/predict", "/invocations"):
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {self.path} (POST /predict)"})
                return
            self._answer(lambda: service.predict(self._payload()))

        def _payload(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("bad Content-Length header") from None
            if length <= 0:
                raise BadRequest("empty body: send JSON such as {\"statements\": [{\"text\": \"...\"}]}")
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise BadRequest(f"body too large ({length} bytes; at most {MAX_BODY_BYTES})",
                                 HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            body = self.rfile.read(length)
            try:
                return json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise BadRequest("body is not valid UTF-8") from None
            except json.JSONDecodeError as exc:
                raise BadRequest(f"body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None

    return Handler


def make_server(model, model_uri: str, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A server for a loaded model (:func:`stance.serving.predict.load`); call ``serve_forever()``."""
    server = ThreadingHTTPServer((host, port), make_handler(Service(model, model_uri)))
    server.daemon_threads = True
    return server
