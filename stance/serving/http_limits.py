"""What ``stance serve`` accepts: its limits, and request bodies read into statement rows.

Every way a body can be wrong is a :class:`BadRequest` (a 4xx with a one-line message): not
UTF-8, not JSON, a lone surrogate escape (``"\\ud800"``, which Python decodes but no response
could encode), JSON nested deeper than :data:`MAX_DEPTH` (checked without recursion; a body
too deep for the decoder itself is the same 400), numbers too long to convert, a wrong shape
or type, no statements, too many statements (413).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus

from stance.serving.rows import statement_row

#: Largest request body and batch accepted.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_STATEMENTS = 2048
#: Deepest JSON nesting accepted ({"statements": [{"text": ...}]} is 3).
MAX_DEPTH = 20


@dataclass(frozen=True)
class Limits:
    """How much one server takes on: see ``stance serve --help`` and the README."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_statements: int = MAX_STATEMENTS
    #: Scoring threads, and requests that may wait for one (beyond that: 503 with Retry-After).
    workers: int = 2
    queue: int = 512
    #: Request bodies held in memory at once, all requests together (beyond that: 503).
    buffered_bytes: int = 64 * 1024 * 1024
    #: Seconds a client has to send a request's head, and (separately) its body; idle keep-alive.
    read_timeout: float = 10.0
    keep_alive: float = 5.0
    backlog: int = 2048


class BadRequest(Exception):
    """The request is wrong (4xx): the message is the one-line answer."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST, close: bool = False):
        super().__init__(message)
        self.status, self.close = status, close


def decode_json(body: bytes):
    """The JSON value of a request body, or a BadRequest saying what is wrong with it."""
    if not body.strip():
        raise BadRequest('empty body: send JSON such as {"statements": [{"text": "..."}]}')
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not valid UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise BadRequest(f"body is JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadRequest(f"body is not usable JSON ({str(exc).splitlines()[0][:120]})") from None


def check_json(value, max_depth: int = MAX_DEPTH) -> None:
    """Reject nesting deeper than ``max_depth`` and strings that are not valid Unicode (a lone
    surrogate), walking the value with a stack (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _unicode(item)
        elif isinstance(item, (list, dict)):
            if depth > max_depth:
                raise BadRequest(f"body is JSON nested too deeply (at most {max_depth} levels)")
            if isinstance(item, dict):
                for key, inner in item.items():
                    _unicode(key)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)


def _unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("body has a lone surrogate escape (e.g. \\ud800): not valid Unicode") from None


def parse_statements(payload, default_target: str | None = None, max_statements: int = MAX_STATEMENTS) -> list[dict]:
    """Input rows from a request body's JSON value; a blank or non-string text is rejected, naming it."""
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
    if len(items) > max_statements:
        raise BadRequest(f"too many statements ({len(items)}; at most {max_statements} a request)",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    check_json(payload)
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


def read_rows(body: bytes, limits: Limits = Limits()) -> list[dict]:
    """Statement rows from a whole request body (:func:`decode_json`, then :func:`parse_statements`)."""
    return parse_statements(decode_json(body), max_statements=limits.max_statements)
