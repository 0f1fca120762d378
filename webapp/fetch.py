"""Fetching a video by URL, only under configured prefixes (Huawei video_url); off when none are configured.

Only http(s), no redirects (a redirect could leave the allowed prefix), a byte limit enforced while reading
and a timeout. Runs on a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from scoring.errors import InputCode
from webapp.errors import FETCH_FAILED, URL_NOT_ALLOWED, ApiError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def is_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or ".." in parts.path:
        return False
    return any(url.startswith(p) for p in prefixes)


def _fetch(url: str, max_bytes: int, timeout_s: float) -> bytes:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout_s) as response:
            if response.status != 200:
                raise ApiError(FETCH_FAILED, f"video_url answered HTTP {response.status}.")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise ApiError(FETCH_FAILED, f"video_url answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ApiError(FETCH_FAILED, f"video_url could not be fetched: {exc}.") from None
    if len(data) > max_bytes:
        raise ApiError(InputCode.INPUT_TOO_LARGE, f"The video at video_url is larger than {max_bytes} bytes.")
    return data


async def fetch_video(url: str, prefixes: tuple[str, ...], max_bytes: int, timeout_s: float = 10.0) -> bytes:
    if not prefixes:
        raise ApiError(URL_NOT_ALLOWED, "video_url is disabled on this server.")
    if not is_allowed(url, prefixes):
        raise ApiError(URL_NOT_ALLOWED, "video_url is not under an allowed prefix.")
    return await asyncio.wait_for(asyncio.to_thread(_fetch, url, max_bytes, timeout_s), timeout_s + 1)
