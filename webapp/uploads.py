"""Reading uploads within limits, in memory only.

`limit_body` tightens the per-request cap before anything is read: a declared Content-Length above it is refused
at once, and a chunked body is cut off by Quart's Body as soon as the bytes received pass it (413), so an
oversized upload is never read whole. Multipart files are parsed into BytesIO, never spooled to a temp file.
"""

from __future__ import annotations

import asyncio
import io
from typing import IO, Any

from quart import Request
from quart.formparser import FormDataParser
from werkzeug.exceptions import RequestEntityTooLarge

from scoring import safe_json
from webapp.errors import BAD_REQUEST, UNSUPPORTED_CONTENT_TYPE, ApiError

FRAMING_BYTES = 64 * 1024  # what a body carries besides its payloads: field names, boundaries, a data-URI prefix
INLINE_JSON_BYTES = 64 * 1024  # a JSON body up to this is parsed on the event loop (well under a millisecond)
# Structural characters ([ { ,) a large JSON body may hold: every API's bodies are a few fields whose large values
# are strings (base64, SDP), so more is junk, refused before parsing (what makes parsing cost CPU is values, not bytes)
MAX_JSON_STRUCTURE = 10_000


def base64_chars(raw_bytes: int) -> int:
    """Characters of base64 text (padding included) that carry `raw_bytes` bytes: the body limit of an API that takes
    its media as base64 is this plus FRAMING_BYTES, so an upload at the media limit fits and nothing much more is read."""
    return 4 * -(-raw_bytes // 3)


def base64_bytes(chars: int) -> int:
    """Bytes that `chars` characters of base64 decode to at most (for a limit stated in base64 text, like Huawei's)."""
    return chars // 4 * 3


def _memory_stream(
    total_content_length: int | None, content_type: str | None, filename: str | None, content_length: int | None = None
) -> IO[bytes]:
    return io.BytesIO()


class MemoryFormDataParser(FormDataParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["stream_factory"] = _memory_stream
        super().__init__(*args, **kwargs)


class MemoryRequest(Request):
    """The app's request class: uploaded files stay in memory."""

    form_data_parser_class = MemoryFormDataParser


def limit_body(request: Request, limit: int) -> None:
    """Applies an endpoint's body limit (never looser than the app-wide one) before the body is read."""
    current = request.max_content_length
    limit = limit if current is None else min(limit, current)
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    request.max_content_length = limit  # used by the form parser
    body = request.body
    body._max_content_length = limit  # noqa: SLF001 - Quart's Body checks it on every received chunk
    if len(body._data) > limit:  # noqa: SLF001 - already past the limit while the handler started
        body._must_raise = RequestEntityTooLarge()  # noqa: SLF001
        body.set_complete()


def media_type(request: Request) -> str:
    return (request.mimetype or "").lower()


def require_type(request: Request, *allowed_prefixes: str) -> str:
    kind = media_type(request)
    if not any(kind.startswith(p) for p in allowed_prefixes):
        raise ApiError(
            UNSUPPORTED_CONTENT_TYPE,
            f"Content-Type {kind or '(none)'} is not accepted here; expected {' or '.join(allowed_prefixes)}.",
        )
    return kind


async def body_bytes(request: Request) -> bytes:
    """The raw body (Quart's get_data with its defaults, spelled out so the type is bytes, not str | bytes)."""
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong with it. Every JSON body is read here:
    strict UTF-8, nesting and size bounded (scoring.safe_json), so no body can raise past the handler.
    With `allow_empty`, an empty body is an empty object."""
    raw = await body_bytes(request)
    if allow_empty and not raw.strip():
        return {}
    return await parse_json_object(raw, request.max_content_length)


def _structure(raw: bytes) -> int:
    return raw.count(b"[") + raw.count(b"{") + raw.count(b",")


def _parse(raw: bytes, max_bytes: int | None) -> Any:
    try:
        return safe_json.loads(raw, max_bytes=max_bytes)
    except safe_json.JsonError as exc:
        message = str(exc)
        # safe_json's own sentences are fixed text; the JSON decoder's detail (positions, Python wording) is not shown
        raise ApiError(BAD_REQUEST, message if ": " not in message else "The body is not valid JSON.") from None


async def parse_json_object(raw: bytes, max_bytes: int | None = None) -> dict[str, Any]:
    """Strict JSON object from a body already read. A large body is first counted for structure (a C scan, no
    objects made) and then parsed on a thread, so no body stalls the event loop (heartbeats, /healthz)."""
    if len(raw) <= INLINE_JSON_BYTES:
        body = _parse(raw, max_bytes)
    else:
        if _structure(raw) > MAX_JSON_STRUCTURE:
            raise ApiError(BAD_REQUEST, f"The JSON body has more than {MAX_JSON_STRUCTURE} values.")
        body = await asyncio.to_thread(_parse, raw, max_bytes)
    if not isinstance(body, dict):
        raise ApiError(BAD_REQUEST, "The body must be a JSON object.")
    return body


async def file_field(request: Request, name: str) -> bytes | None:
    files = await request.files
    storage = files.get(name)
    if storage is None:
        return None
    data = storage.read()
    storage.close()
    return data
