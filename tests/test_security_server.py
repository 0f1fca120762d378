"""Issue 19's attacks, each re-run against a real `livecheck serve` (Hypercorn, SQLite store, API keys, small caps)
as an attacker would run it: raw HTTP from outside the process. Each test fails on the code before the fix.

The server here: two API keys, a SQLite store file, `video-url-prefixes` pointing at a local web server that
answers one byte every few seconds, `max-live-checks = 1`, the demo on and `public-url` unset."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mediagen import encode_video, read_rgb
from serverproc import Reply, Server

KEY_A = "tenant-a-key-0123456789"
KEY_B = "tenant-b-key-0123456789"
SIGNING = "k2026:" + "s" * 40


class SlowHandler(BaseHTTPRequestHandler):
    """`/ok/slow.mp4`: one byte every 3 s, forever (the attacker's 'video')."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(10**9))
        self.end_headers()
        try:
            while not getattr(self.server, "stopping", False):
                self.wfile.write(b"\x00")
                self.wfile.flush()
                time.sleep(3)
        except OSError:
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_site() -> Iterator[int]:
    site = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    site.daemon_threads = True
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(site.server_address[1])
    finally:
        site.stopping = True  # type: ignore[attr-defined]
        site.shutdown()


@pytest.fixture(scope="module")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory, slow_site: int) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("security-server")
    env = {
        "LIVECHECK_API_KEYS": f"{KEY_A},{KEY_B}",
        "LIVECHECK_STORE__URL": f"sqlite:///{work / 'store.db'}",
        "LIVECHECK_STORE__MAX_LIVE_CHECKS": "1",
        "LIVECHECK_SERVER__VIDEO_URL_PREFIXES": f"http://127.0.0.1:{slow_site}/ok/",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "2",
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_REALTIME__CONNECT_TIMEOUT_S": "60",
    }
    srv = Server(env, cwd=work, models_dir=models_dir)
    try:
        srv.wait_ready(120)
        yield srv
    finally:
        srv.stop()


def call(server: Server, method: str, path: str, body: Any = None, key: str | None = KEY_A, **headers: str) -> Reply:
    data = b""
    hdrs = dict(headers)
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if key is not None:
        hdrs.setdefault("Authorization", f"Bearer {key}")
    return server.request(method, path, data, hdrs, timeout=60)


def body_of(reply: Reply) -> dict[str, Any]:
    assert reply.status, reply.error
    return json.loads(reply.body)  # type: ignore[no-any-return]


def create(server: Server, key: str = KEY_A, **options: Any) -> dict[str, Any]:
    reply = call(server, "POST", "/v1/sessions", options, key=key)
    assert reply.status == 201, reply.body[:300]
    return body_of(reply)


# -- 1: the recording fallback judges video only ----------------------------------------------------------------


def started_fallback(server: Server) -> dict[str, Any]:
    session = create(server, action_count=0, recording_fallback=True)
    reply = call(server, "POST", f"/v1/sessions/{session['session_id']}/fallback", key=session["client_token"])
    assert reply.status == 200, reply.body[:300]
    return session


def upload(server: Server, session: dict[str, Any], data: bytes, content_type: str) -> Reply:
    return call(
        server,
        "POST",
        f"/v1/sessions/{session['session_id']}/recording",
        data,
        key=session["client_token"],
        **{"Content-Type": content_type},
    )


def multipart(field: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = "livecheck-boundary-7f3a"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="r.mp4"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_genuine_selfie_uploaded_as_the_recording_is_refused(server: Server, media_bytes) -> None:
    """The attack: a passive fallback session, one genuine selfie JPEG as the 'recording' (raw, labelled
    video/mp4; as a multipart field; as a one-frame MP4). Before: SUCCEEDED, alive, frames_analyzed 1."""
    selfie = media_bytes("images/image_T1.jpg")
    one_frame = encode_video([read_rgb(selfie)[:480, :480]], 25.0)
    form, form_type = multipart("video", selfie, "video/mp4")
    for data, kind in ((selfie, "video/mp4"), (form, form_type), (one_frame, "video/mp4")):
        session = started_fallback(server)
        reply = upload(server, session, data, kind)
        assert reply.status == 422, reply.body[:300]
        assert body_of(reply)["error"]["code"] == "recording_not_video"
        view = body_of(call(server, "GET", f"/v1/sessions/{session['session_id']}"))
        assert view["status"] == "FAILED" and view["result"]["alive"] is False
        assert view["result"]["reasons"] == ["recording_not_video"]


def announce(server: Server, path: str, length: int, headers: dict[str, str], wait_s: float = 5.0) -> tuple[int, bytes]:
    """Sends a request's head declaring `length` body bytes and none of them: what the server answers within
    `wait_s` (0: nothing, it is waiting for the body it means to read)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as sock:
        sock.sendall(head.encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            data += sock.recv(65536)
        except TimeoutError:
            pass
    if not data.startswith(b"HTTP/1.1 "):
        return 0, data
    return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]


def test_a_stranger_uploading_to_a_recording_is_refused_before_the_body_is_read(server: Server) -> None:
    """Without the client token a declared 16 MiB upload is answered 403 at once. Before: the server waited for
    (and would have read) the whole body, then said 403."""
    session = started_fallback(server)
    path = f"/v1/sessions/{session['session_id']}/recording"
    status, body = announce(server, path, 16 * 1024 * 1024, {"Authorization": "Bearer x", "Content-Type": "video/mp4"})
    assert status == 403 and b"invalid_token" in body
