"""The one place that turns failures into HTTP: scoring's stable input codes, busy pool, auth, body size, refused
session operations, an unreachable session store, and the last-resort 500. Route modules only raise.

Each API has its own error body; it asks for it with `install(blueprint, render)` (a Renderer from a Failure) or,
when its shape needs the exception itself (Huawei's own FRS errors, Silent's detail header), with
`install_handler(blueprint, handle, also)`; either way the same exception kinds are handled. The status an input
code maps to is in STATUS_BY_CODE (native API); compatible APIs override it where their contract says otherwise
(Huawei answers 400 for everything, for one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from quart import Blueprint, Quart, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from realtime.errors import SessionError
from realtime.store import StoreError
from scoring import errors as codes
from scoring.errors import InputError, Overloaded
from webapp.auth import Unauthorized
from webapp.workers import Busy


class ApiCode(StrEnum):
    """Codes the web layer adds to scoring's InputCode."""

    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    RATE_LIMITED = "rate_limited"
    URL_NOT_ALLOWED = "url_not_allowed"
    FETCH_FAILED = "fetch_failed"
    DECRYPT_FAILED = "decrypt_failed"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"  # an unexpected error: logged with the request id, answered 500 (a bug, never the input)
    SERVER_ERROR = "server_error"  # an HTTP 5xx raised on purpose inside a handler


# The module-level names the adapters import: the same members, not a second vocabulary.
BODY_TOO_LARGE = ApiCode.BODY_TOO_LARGE
UNSUPPORTED_CONTENT_TYPE = ApiCode.UNSUPPORTED_CONTENT_TYPE
BAD_REQUEST = ApiCode.BAD_REQUEST
UNAUTHORIZED = ApiCode.UNAUTHORIZED
BUSY = ApiCode.BUSY
RATE_LIMITED = ApiCode.RATE_LIMITED
URL_NOT_ALLOWED = ApiCode.URL_NOT_ALLOWED
FETCH_FAILED = ApiCode.FETCH_FAILED
DECRYPT_FAILED = ApiCode.DECRYPT_FAILED
NOT_FOUND = ApiCode.NOT_FOUND
INTERNAL = ApiCode.INTERNAL

log = logging.getLogger("livecheck")
LOGGER_PREFIX = "livecheck"


def printable(text: str) -> str:
    """`text` with every control character (CR, LF, ESC, ...) written as an escape, so a request path or a header
    an attacker chose cannot start a forged log line or drive a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def install_log_escaping() -> None:
    """Every record of livecheck's loggers (livecheck, livecheck.*) carries its message already formatted and
    escaped (`printable`); tracebacks are the formatter's and stay multi-line. Installed once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "escapes_livecheck", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == LOGGER_PREFIX or record.name.startswith(LOGGER_PREFIX + "."):
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a bad format string stays the logging module's to report
                return record
            record.msg, record.args = printable(message), None
        return record

    factory.escapes_livecheck = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


STATUS_BY_CODE: dict[str, int] = {
    codes.EMPTY_INPUT: 400,
    codes.INPUT_TOO_LARGE: 413,
    codes.UNSUPPORTED_MEDIA: 415,
    codes.CORRUPT_MEDIA: 422,
    codes.EXPECTED_VIDEO: 422,
    codes.EXPECTED_IMAGE: 422,
    codes.VIDEO_TOO_LONG: 422,
    codes.VIDEO_TOO_SHORT: 422,
    codes.FPS_TOO_HIGH: 422,
    codes.RESOLUTION_TOO_HIGH: 422,
    codes.INVALID_ACTIONS: 400,
    BODY_TOO_LARGE: 413,
    UNSUPPORTED_CONTENT_TYPE: 415,
    BAD_REQUEST: 400,
    UNAUTHORIZED: 401,
    BUSY: 503,
    RATE_LIMITED: 429,
    URL_NOT_ALLOWED: 400,
    FETCH_FAILED: 400,
    DECRYPT_FAILED: 400,
    NOT_FOUND: 404,
}


# What guard_host answers: Quart cannot build a request (nor run a handler) for a Host it cannot bind.
BAD_HOST_BODY = json.dumps(
    {"error": {"code": BAD_REQUEST, "message": "The Host header is not a valid host name."}}, separators=(",", ":")
).encode()


def valid_host(host: str) -> bool:
    """What Werkzeug can bind a URL map to (its IDNA encoding of the name without the port); a Host it cannot is
    raised while Quart builds the request context, before any error handler of ours: a bare 500."""
    try:
        host.lower().partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True


def guard_host(asgi_app: Any) -> Any:
    """An ASGI wrapper answering 400 `bad_request` to a request whose Host header no URL map can be bound to."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"")
            if not valid_host(host.decode("latin-1")):
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(BAD_HOST_BODY)).encode()),
                ]
                await send({"type": "http.response.start", "status": 400, "headers": headers})
                await send({"type": "http.response.body", "body": BAD_HOST_BODY})
                return
        await asgi_app(scope, receive, send)

    return guarded


class ApiError(Exception):
    """A failure an adapter detects itself (bad field, wrong content type, ...), with a stable code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    status: int
    retry_after_s: int | None = None


Renderer = Callable[[Failure], tuple[object, int]]
Handler = Callable[[Exception], Awaitable[Response]]
# The failures every API answers in its own shape (SessionError only where sessions are: `also`).
EXPECTED: tuple[type[Exception], ...] = (
    ApiError,
    InputError,
    Busy,
    Overloaded,
    Unauthorized,
    RequestEntityTooLarge,
    BadRequest,
)
STORE_RETRY_AFTER_S = 5


def failure_of(exc: Exception) -> Failure:
    if isinstance(exc, ApiError):
        return Failure(exc.code, exc.message, exc.status)
    if isinstance(exc, InputError):
        return Failure(exc.code, exc.message, STATUS_BY_CODE.get(exc.code, 400))
    if isinstance(exc, SessionError):
        retry = None if exc.retry_after_s is None else int(exc.retry_after_s)
        return Failure(exc.code, exc.message, exc.status, retry)
    if isinstance(exc, Busy):
        return Failure(BUSY, str(exc), 503, exc.retry_after_s)
    if isinstance(exc, Overloaded):
        return Failure(BUSY, exc.message, 503, exc.retry_after_s)
    if isinstance(exc, Unauthorized):
        return Failure(UNAUTHORIZED, str(exc), 401)
    if isinstance(exc, RequestEntityTooLarge):
        return Failure(BODY_TOO_LARGE, "The request body is larger than this endpoint accepts.", 413)
    if isinstance(exc, BadRequest):
        return Failure(BAD_REQUEST, exc.description or "Bad request.", 400)
    if isinstance(exc, HTTPException):
        return Failure(
            BAD_REQUEST if (exc.code or 500) < 500 else ApiCode.SERVER_ERROR, exc.description or "", exc.code or 500
        )
    raise exc


def native_body(failure: Failure) -> tuple[object, int]:
    """livecheck's own shape: {"error": {"code", "message"}} with the mapped status."""
    return {"error": {"code": failure.code, "message": failure.message}}, failure.status


def respond(exc: Exception, render: Renderer = native_body) -> Response:
    """The HTTP answer to an expected failure in one API's shape, with Retry-After when it has one."""
    failure = failure_of(exc)
    body, status = render(failure)
    response = jsonify(body)
    response.status_code = status
    if failure.retry_after_s is not None:
        response.headers["Retry-After"] = str(failure.retry_after_s)
    return response


def install_handler(blueprint: Blueprint, handle: Handler, also: tuple[type[Exception], ...] = ()) -> None:
    """Registers `handle` on one API's blueprint for every expected failure and the API's own kinds (`also`)."""
    for kind in EXPECTED + also:
        blueprint.register_error_handler(kind, handle)


def install(blueprint: Blueprint, render: Renderer = native_body, also: tuple[type[Exception], ...] = ()) -> None:
    """Registers handlers for every expected failure on one API's blueprint, answered in `render`'s shape."""

    async def handle(exc: Exception) -> Response:
        return respond(exc, render)

    install_handler(blueprint, handle, also)


def install_app(app: Quart) -> None:
    """App-wide: an unreachable session store is 503 + Retry-After; HTTP errors raised outside a blueprint keep
    their status; anything else is a bug, logged with its traceback and request id and answered as a JSON 500
    carrying that id (never a bare close)."""

    @app.errorhandler(StoreError)
    async def _store_unavailable(exc: StoreError) -> Response:
        """The session store (Redis, the SQLite file) cannot be reached: a server-side outage, answered 503."""
        log.error("session store unavailable in %s %s: %s", request.method, request.path, exc)
        response = jsonify(
            {
                "error": {
                    "code": StoreError.code,
                    "message": "The session store is unavailable; try again shortly.",
                    "request_id": getattr(g, "request_id", None),
                }
            }
        )
        response.status_code = 503
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, EXPECTED):
            return respond(exc)
        if isinstance(exc, HTTPException):
            response = jsonify({"error": {"code": exc.name.lower().replace(" ", "_"), "message": exc.description}})
            response.status_code = exc.code or 500
            return response
        request_id = getattr(g, "request_id", None)
        log.exception("unexpected error in %s %s (request id %s)", request.method, request.path, request_id)
        response = jsonify({"error": {"code": INTERNAL, "message": "Internal error.", "request_id": request_id}})
        response.status_code = 500
        return response
