"""Fetching a video by URL, only under configured prefixes (Huawei video_url); off when none are configured.

What a hostile URL (or the server behind it) could do, and what stops it:
- leave the allowed prefix: the URL is parsed and normalised first (scheme and host lower-cased, default port,
  percent-encoding decoded and re-encoded, `.`/`..` segments - encoded or not - refused, no credentials), and the
  prefix is matched on those parts: same scheme, host and port, and the path under the prefix's path at a segment
  boundary (`/videos` does not match `/videos-private`, `http://a.example` does not match `a.example.evil`). The
  normalised URL is the one fetched; redirects are not followed.
- trickle bytes for ever (one byte every few seconds): a total deadline for the whole fetch (connect, headers,
  body), enforced from outside the fetching thread by shutting its socket down.
- send too much: a byte budget checked against Content-Length and while reading.
- fill a thread pool others need: fetches run on their own bounded pool (`server.video-url-fetches` threads);
  when every one is busy the request is refused at once with busy (503), never queued.
Failures say what happened in fixed words (FRS.0706-style), never a resolver's or a socket's exception text.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from quart import current_app

from scoring.errors import InputCode
from webapp.errors import FETCH_FAILED, URL_NOT_ALLOWED, ApiError
from webapp.workers import Busy

EXTENSION = "livecheck.video_url"
MAX_URL_CHARS = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
READ_CHUNK = 64 * 1024
PATH_SAFE = "/!$&'()*+,;=:@-._~"  # RFC 3986 pchar (and '/') left as they are when re-encoding


@dataclass(frozen=True)
class Target:
    """A URL as parsed and normalised: what is matched against the prefixes and what is fetched."""

    scheme: str
    host: str
    port: int
    path: str  # normalised, percent-encoded, starts with '/'
    query: str

    @property
    def request_target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def url(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{'' if default else f':{self.port}'}{self.request_target}"

    def under(self, prefix: Target) -> bool:
        if (self.scheme, self.host, self.port) != (prefix.scheme, prefix.host, prefix.port):
            return False
        base = prefix.path
        return (
            self.path.startswith(base) if base.endswith("/") else self.path == base or self.path.startswith(base + "/")
        )


def parse_url(url: object) -> Target | None:
    """The normalised target, or None for anything but a plain http(s) URL without credentials or dot segments."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS or not url.isascii():
        return None
    if any(ch.isspace() or ch == "\\" or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    segments = []
    for raw in (parts.path or "/").split("/"):
        segment = unquote(raw)
        if segment in (".", "..") or "/" in segment or "\\" in segment or "%" in segment:
            return None  # dot segments, encoded slashes and double encoding are refused, never resolved
        segments.append(quote(segment, safe=PATH_SAFE))
    path = "/".join(segments)
    return Target(
        scheme, host, port or DEFAULT_PORTS[scheme], path if path.startswith("/") else "/" + path, parts.query
    )


def parse_prefixes(prefixes: tuple[str, ...]) -> tuple[Target, ...]:
    """The configured prefixes, parsed like a URL; raises ValueError naming one that is not a plain URL."""
    found = []
    for prefix in prefixes:
        target = parse_url(prefix)
        if target is None or target.query:
            raise ValueError(f"server.video-url-prefixes: {prefix!r} is not a plain http(s) URL prefix")
        found.append(target)
    return tuple(found)


class _TooLarge(Exception):
    pass


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _read(target: Target, max_bytes: int, deadline: float, sockets: list[socket.socket]) -> bytes:
    """Blocking GET on the fetch pool's thread. `sockets` gets the connection's socket, so the caller can shut it
    down when the deadline passes (a blocked read then returns at once)."""
    remaining = max(0.05, deadline - time.monotonic())
    cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = cls(target.host, target.port, timeout=remaining)
    try:
        try:
            conn.connect()
            if conn.sock is not None:
                sockets.append(conn.sock)
            conn.request("GET", target.request_target, headers={"Accept": "video/*", "User-Agent": "livecheck"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            raise _Failed("video_url could not be fetched.") from None
        if response.status != 200:
            raise _Failed(f"video_url answered HTTP {response.status}.")
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _TooLarge()
        chunks: list[bytes] = []
        total = 0
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError
            if conn.sock is not None:
                conn.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = response.read1(READ_CHUNK)
            except (OSError, http.client.HTTPException, ValueError):
                if time.monotonic() >= deadline:
                    raise TimeoutError from None
                raise _Failed("video_url could not be fetched.") from None
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > max_bytes:
                raise _TooLarge()
            chunks.append(chunk)
    finally:
        conn.close()


class VideoFetcher:
    """The app's one video_url fetcher: the prefixes, the deadline and the fetch pool (closed after serving)."""

    def __init__(self, prefixes: tuple[str, ...], workers: int, deadline_s: float) -> None:
        self.prefixes = parse_prefixes(prefixes)
        self.workers = max(1, workers)
        self.deadline_s = deadline_s
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after close()
        self._busy = 0
        self._lock = threading.Lock()

    def allowed(self, url: object) -> Target | None:
        target = parse_url(url)
        if target is None or not any(target.under(p) for p in self.prefixes):
            return None
        return target

    def _release(self, _future: object) -> None:
        with self._lock:
            self._busy -= 1

    async def fetch(self, url: object, max_bytes: int) -> bytes:
        if not self.prefixes:
            raise ApiError(URL_NOT_ALLOWED, "video_url is disabled on this server.")
        target = self.allowed(url)
        if target is None:
            raise ApiError(URL_NOT_ALLOWED, "video_url is not under an allowed prefix.")
        with self._lock:
            if self._busy >= self.workers:  # refused, never queued: a slow site cannot hold others' requests
                raise Busy(5, "Every video_url fetch slot is busy; retry shortly.")
            self._busy += 1
        deadline = time.monotonic() + self.deadline_s
        sockets: list[socket.socket] = []
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="video-url")
        future = self._executor.submit(_read, target, max_bytes, deadline, sockets)
        future.add_done_callback(self._release)  # the slot is free when the thread is, not before
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline_s + 0.5)
        except TimeoutError:
            for sock in sockets:  # unblocks the thread's read at once
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise ApiError(FETCH_FAILED, f"video_url did not deliver the video within {self.deadline_s:g} s.") from None
        except _TooLarge:
            raise ApiError(
                InputCode.INPUT_TOO_LARGE, f"The video at video_url is larger than {max_bytes} bytes."
            ) from None
        except _Failed as exc:
            raise ApiError(FETCH_FAILED, exc.message) from None

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def video_fetcher() -> VideoFetcher:
    """The current app's fetcher (webapp.app creates it)."""
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, VideoFetcher)
    return found
