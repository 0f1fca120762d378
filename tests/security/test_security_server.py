"""Issue 19's attacks, each re-run against a real `livecheck serve` (Hypercorn, SQLite store, API keys, small caps)
as an attacker would run it: raw HTTP from outside the process. Each test fails on the code before the fix.

The server here: two API keys, a SQLite store file, `video-url-prefixes` pointing at a local web server that
answers one byte every few seconds, `max-live-checks = 1`, the demo on and `public-url` unset."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest

from evaluation.local_server import free_port
from realtime.client import FramesTrack, LiveClient
from realtime.peer import offer_host_addresses
from scoring.errors import InputCode
from tests.support.mediagen import encode_video, read_rgb
from tests.support.serverproc import Reply, Server
from webapp.api_huawei import ERROR_CODES as HUAWEI_CODES
from webapp.errors import ApiCode

KEY_A = "tenant-a-key-0123456789"
KEY_B = "tenant-b-key-0123456789"
SIGNING_KID, SIGNING_SECRET = "k2026", "s" * 40


class SlowHandler(BaseHTTPRequestHandler):
    """Any path: one byte every 3 s, forever (the attacker's 'video'); `huge` in the path also declares 1 GB."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        if "huge" in self.path:  # declares a gigabyte (and trickles it)
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
        "LIVECHECK_SERVER__VIDEO_URL_PREFIXES": f"http://127.0.0.1:{slow_site}/ok/,http://no-such-host.invalid/v/",
        "LIVECHECK_SERVER__VIDEO_URL_TIMEOUT_S": "3",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "2",
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_SERVER__SIGNING_KEYS": f"{SIGNING_KID}:{SIGNING_SECRET},old2025:{'o' * 40}",
        "LIVECHECK_REALTIME__CONNECT_TIMEOUT_S": "60",
        "LIVECHECK_REALTIME__DEMO_MAX_OPEN": "8",
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


def announce(
    server: Server, path: str, length: int, headers: dict[str, str], wait_s: float = 5.0, first: bytes = b""
) -> tuple[int, bytes]:
    """Sends a request's head declaring `length` body bytes and only `first` of them: what the server answers
    within `wait_s` (0: nothing, it is waiting for the body it means to read)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as sock:
        sock.sendall(head.encode() + first)
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
    finished = upload(server, session, b"", "video/mp4")  # the owner ends it (it held max-live-checks' one place)
    assert body_of(finished)["error"]["code"] == "empty_recording"


# -- 2: nothing keyless reads a body it does not need, or parses one on the event loop ----------------------------

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
KEYED_ROUTES: list[tuple[str, dict[str, str], bytes]] = [  # path, Content-Type, what a refusal's body names
    ("/v1/analyze", {"Content-Type": "video/mp4"}, b"unauthorized"),
    ("/v1/video-liveness", {"Content-Type": "video/mp4"}, b"UNAUTHORIZED"),
    ("/v2/p1/live-detect", JSON, b"FRS.00"),
    ("/identity/silent_image_verification/stateless", {"Content-Type": "multipart/form-data; boundary=b"}, b"1200"),
    ("/v1/sessions", JSON, b"unauthorized"),
    ("/liveness", JSON, b"Invalid credentials"),
]


@pytest.mark.parametrize("path, kind, names", KEYED_ROUTES, ids=[p for p, _, _ in KEYED_ROUTES])
@pytest.mark.parametrize("credential", ["none", "wrong"])
def test_every_keyed_route_refuses_before_reading_its_body(
    server: Server, path: str, kind: dict[str, str], names: bytes, credential: str
) -> None:
    """A declared 1 MiB body without a key, or with a wrong one, and not a byte of it sent: the refusal comes at
    once (0 would mean the server is waiting for the body). Facia's /liveness without a Bearer header is the one
    route whose credential may be in the body: it is in test_facia_hash_id_is_checked_before_the_rest_of_the_body."""
    if path == "/liveness" and credential == "none":
        pytest.skip("Facia's hash_id comes in the body: see the next test")
    headers = {**kind, **({"Authorization": "Bearer wrong", "X-Auth-Token": "wrong"} if credential == "wrong" else {})}
    status, body = announce(server, path, MIB, headers)
    assert status in (400, 401, 403), (status, body[:200])
    assert names in body, body[:200]


def test_facia_hash_id_is_checked_before_the_rest_of_the_body(server: Server) -> None:
    """Facia's credential is the body's hash_id. As its first member (Facia's own examples) it is checked as soon as
    it arrives: a wrong one is 401 with the rest of a declared 4 MiB body unsent, and a body carrying only a wrong
    hash_id is 401. A body whose hash_id comes later must be read to find it: at most two such are read at once,
    the next is 503 busy + Retry-After at once (before: every keyless body was read and parsed, any number at once)."""
    first = b'{"hash_id": "wrong-key", "selfie_image": "data:image/jpeg;base64,'
    status, body = announce(server, "/liveness", 4 * MIB, JSON, first=first)
    assert status == 401 and b"Invalid credentials" in body, (status, body[:200])
    only = call(server, "POST", "/liveness", {"hash_id": "wrong-key"}, key=None)
    assert only.status == 401 and body_of(only) == {"message": "Invalid credentials"}
    right = call(server, "POST", "/liveness", {"hash_id": KEY_A}, key=None)  # the right key first: on to the body
    assert right.status == 400 and "Selfie_image" in body_of(right)["error"]
    later = b'{"selfie_image": "data:image/jpeg;base64,AAAA'
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
    try:
        for sock in held:  # two bodies whose hash_id is not first, being read (they trickle)
            head = (
                f"POST /liveness HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {MIB}\r\n\r\n"
            )
            sock.sendall(head.encode() + later)
        time.sleep(1.0)
        status, body = announce(server, "/liveness", MIB, JSON, first=later)
        assert status == 503 and b"first member" in body, (status, body[:200])
    finally:
        for sock in held:
            sock.close()
    time.sleep(1.0)  # the closed connections end their reads: their places are free again
    late = call(server, "POST", "/liveness", {"selfie_image": "", "hash_id": KEY_A}, key=None)
    assert late.status == 400 and "Selfie_image" in body_of(late)["error"]


def junk_array(size: int) -> bytes:
    return b"[" + b"1," * (size // 2 - 1) + b"1]"


KEYLESS_JUNK: list[tuple[str, bytes, dict[str, str]]] = [
    ("/v1/sessions/nosuch/offer", junk_array(16 * 1024 * 1024 - 64), {"Content-Type": "application/json"}),
    ("/v1/sessions/nosuch/offer", junk_array(60 * 1024), {"Content-Type": "application/json"}),
    (
        "/liveness",
        b'{"hash_id": "x", "junk": ' + junk_array(4 * 1024 * 1024) + b"}",
        {"Content-Type": "application/json"},
    ),
    (
        "/liveness",
        b'{"hash_id": "x", "selfie_image": "' + b"A" * (12 * 1024 * 1024) + b'"}',
        {"Content-Type": "application/json"},
    ),
]


def test_keyless_offer_bodies_are_capped_and_refused_before_reading(server: Server) -> None:
    """Without the client token in the Authorization header, or with a wrong one, an offer is 403 invalid_token
    before any of its declared body is read; with the right token a declared 16 MiB offer is 413 at once (its cap
    is ~64 KiB). Before: the server waited for, read and parsed all of it (the token could come in the body)."""
    session = create(server)
    path = f"/v1/sessions/{session['session_id']}/offer"
    token = {"Authorization": f"Bearer {session['client_token']}"}
    for headers in ({}, {"Authorization": "Bearer x"}):
        status, body = announce(server, path, 60 * 1024, {"Content-Type": "application/json", **headers})
        assert status == 403 and b"invalid_token" in body, (headers, status, body[:200])
    status, body = announce(server, path, 16 * 1024 * 1024, {"Content-Type": "application/json", **token})
    assert status == 413 and b"invalid_offer" in body
    reply = call(
        server, "POST", path, b"{not json", key=session["client_token"], **{"Content-Type": "application/json"}
    )
    assert reply.status == 400 and b"line 1" not in reply.body and b"char" not in reply.body  # no decoder text


def test_the_client_token_is_taken_from_the_header_only(server: Server) -> None:
    """A token inside the offer's JSON is not a credential (it would mean parsing a stranger's body first): 403
    invalid_token and the session stays CREATED, its token unused; the same token in the header gets past it to
    the SDP check (400 invalid_offer for this junk SDP)."""
    session = create(server)
    path = f"/v1/sessions/{session['session_id']}/offer"
    offer = {"sdp": "v=0", "type": "offer", "token": session["client_token"]}
    in_body = call(server, "POST", path, offer, key=None)
    assert in_body.status == 403 and body_of(in_body)["error"]["code"] == "invalid_token"
    assert "Authorization" in body_of(in_body)["error"]["message"]
    assert body_of(call(server, "GET", f"/v1/sessions/{session['session_id']}"))["status"] == "CREATED"
    in_header = call(server, "POST", path, offer, key=session["client_token"])
    assert in_header.status == 400 and body_of(in_header)["error"]["code"] == "invalid_offer"


def healthz_latencies(
    server: Server, seconds: float, junk: list[tuple[str, bytes, dict[str, str]]]
) -> tuple[list[float], dict[int, int]]:
    """/healthz answer times while four keyless clients send `junk` as fast as they can; their statuses."""
    stop = time.monotonic() + seconds
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def attacker(index: int) -> None:
        n = index
        while time.monotonic() < stop:
            path, body, headers = junk[n % len(junk)]
            n += 1
            reply = server.request("POST", path, body, headers, timeout=30)
            with lock:
                statuses[reply.status] = statuses.get(reply.status, 0) + 1

    latencies: list[float] = []
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(attacker, i) for i in range(4)]
        time.sleep(0.5)
        while time.monotonic() < stop:
            latencies.append(server.request("GET", "/healthz", timeout=30).seconds)
            time.sleep(0.05)
        for future in futures:
            future.result()
    return latencies, statuses


def test_healthz_stays_responsive_while_keyless_junk_is_in_flight(server: Server) -> None:
    """Four keyless clients send 16 MiB JSON offers, 4 MB JSON arrays and 12 MB strings to /liveness. /healthz is
    measured meanwhile. Before: it waited 4.7 s behind one offer (the body parsed on the event loop). The bound
    asserted is generous (a stall, not a figure: bench/fuzz.py prints the p99)."""
    latencies, statuses = healthz_latencies(server, 8.0, KEYLESS_JUNK)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"/healthz under keyless junk: n={len(ordered)} p50={statistics.median(ordered) * 1000:.1f} ms "
        f"p99={p99 * 1000:.1f} ms max={ordered[-1] * 1000:.1f} ms; junk statuses {statuses}"
    )
    assert not any(500 <= s for s in statuses), statuses
    assert set(statuses) <= {400, 401, 403, 404, 413}, statuses
    assert ordered[-1] < 2.0, ordered[-5:]


# -- 3: video_url fetches are bounded; the session store never waits behind them ---------------------------------


def huawei(server: Server, url: str) -> Reply:
    return call(server, "POST", "/v2/p1/live-detect", {"actions": "1", "video_url": url})


def frs(code: str) -> str:
    """The FRS code the Huawei adapter answers a livecheck code with (its table decides, not this test)."""
    return str(HUAWEI_CODES[code][0])


FETCH_FAILED, NOT_ALLOWED, TOO_LARGE, BUSY = (
    frs(c) for c in (ApiCode.FETCH_FAILED, ApiCode.URL_NOT_ALLOWED, InputCode.INPUT_TOO_LARGE, ApiCode.BUSY)
)


def test_a_trickling_video_url_ends_in_fetch_failed_at_its_deadline(server: Server, slow_site: int) -> None:
    """One byte every 3 s. Before: a 500 after 11 s (an unhandled TimeoutError) while the thread kept reading."""
    reply = huawei(server, f"http://127.0.0.1:{slow_site}/ok/slow.mp4")
    assert reply.status == 400, reply.body[:300]
    assert body_of(reply)["error_code"] == FETCH_FAILED
    assert reply.seconds < 8, reply.seconds  # the 3 s deadline, not the socket timeout per byte
    declared = huawei(server, f"http://127.0.0.1:{slow_site}/ok/huge.mp4")  # over the byte budget: refused at once
    assert body_of(declared)["error_code"] == TOO_LARGE and declared.seconds < 2, declared


def test_trickling_fetches_do_not_hold_the_session_store(server: Server, slow_site: int) -> None:
    """Six trickling fetches at once (the pool has two): the rest are refused busy at once, and creating a session
    (a SQLite write) answers meanwhile. Before: the fetch threads filled the default executor the store shared
    and POST /v1/sessions hung for more than 20 s."""
    url = f"http://127.0.0.1:{slow_site}/ok/slow.mp4"
    with ThreadPoolExecutor(6) as pool:
        fetches = [pool.submit(huawei, server, url) for _ in range(6)]
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(3):
            create(server)
        creating = time.monotonic() - started
        replies = [f.result() for f in fetches]
    codes = sorted(body_of(r)["error_code"] for r in replies)
    assert set(codes) <= {FETCH_FAILED, BUSY} and BUSY in codes, codes
    assert all(r.status in (400, 503) for r in replies)
    assert creating < 2.5, creating


@pytest.mark.parametrize(
    "path",
    [
        "/ok/%2e%2e/secret.mp4",  # encoded dot segments used to pass the raw startswith
        "/ok/%2E%2E%2Fsecret.mp4",
        "/ok/..%2fsecret.mp4",
        "/okay.mp4",  # not under /ok/
        "/ok/%252e%252e/x.mp4",  # double encoding
    ],
)
def test_video_url_prefixes_are_matched_on_the_normalised_url(server: Server, slow_site: int, path: str) -> None:
    reply = huawei(server, f"http://127.0.0.1:{slow_site}{path}")
    assert reply.status == 400 and body_of(reply)["error_code"] == NOT_ALLOWED, reply.body[:300]
    other_host = huawei(server, f"http://127.0.0.1:{slow_site}@evil.example/ok/x.mp4")
    assert body_of(other_host)["error_code"] == NOT_ALLOWED


def test_resolver_errors_are_not_echoed(server: Server) -> None:
    reply = huawei(server, "http://no-such-host.invalid/v/clip.mp4")
    message = body_of(reply)["error_msg"] + " " + " ".join(reply.headers.values())
    assert body_of(reply)["error_code"] == FETCH_FAILED, message
    assert "Errno" not in message and "known" not in message and "getaddrinfo" not in message, message


# -- 4: the demo's capacity is its own, shared out per address, and only under a host the server was told ----------


def from_address(server: Server, source: str, method: str, path: str, headers: dict[str, str]) -> Reply:
    """A request from another loopback address (each is another client to the demo's quota)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    started = time.monotonic()
    try:
        conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
        response = conn.getresponse()
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
            time.monotonic() - started,
        )
    finally:
        conn.close()


def demo_create(server: Server, source: str = "127.0.0.1", host: str | None = None) -> Reply:
    host = host or f"127.0.0.1:{server.port}"
    headers = {"Host": host, "Origin": f"http://{host}", "Content-Type": "application/json"}
    return from_address(server, source, "POST", "/demo/sessions", headers)


def test_a_forged_host_never_becomes_the_demo_widgets_frame_ancestor(server: Server) -> None:
    """public-url unset. Before: Host: evil.example made a demo session whose widget CSP said frame-ancestors
    http://evil.example (and the widget posted its messages there): any site got a free check."""
    forged = demo_create(server, host="evil.example")
    assert forged.status == 403 and body_of(forged)["error"]["code"] == "origin_not_allowed", forged.body[:200]
    told = demo_create(server)
    assert told.status == 200, told.body[:200]
    widget = server.request("GET", f"/widget/{body_of(told)['session_id']}", headers={"Host": "evil.example"})
    csp = widget.headers["content-security-policy"]
    assert f"frame-ancestors http://127.0.0.1:{server.port}" in csp and "evil" not in widget.body.decode(), csp


async def _offers(count: int) -> list[str]:
    clients = []
    sdps = []
    for _ in range(count):
        live = LiveClient(FramesTrack([np.full((240, 320, 3), 128, np.uint8)], 15))
        offer = await live.pc.createOffer()
        offer_host_addresses(live.pc, ("127.0.0.1",))
        await live.pc.setLocalDescription(offer)
        sdps.append(live.pc.localDescription.sdp)
        clients.append(live)
    for live in clients:  # never connected: the server keeps waiting for ICE (connect-timeout-s)
        await live.pc.close()
    return sdps


# Offers that pass the SDP check but that aiortc cannot use (its parser raises on them), with what it raised.
UNUSABLE_OFFERS = {
    "setup": (("a=setup:actpass", "a=setup:bogus"), "'bogus'"),
    "rtpmap": (("VP8/90000", "VP8/abc"), "invalid literal"),
    "sctp-port": (("a=sctp-port:5000", "a=sctp-port:abc"), "invalid literal"),
}


@pytest.mark.parametrize("name", sorted(UNUSABLE_OFFERS))
def test_an_offer_the_webrtc_stack_cannot_use_is_refused_without_its_exception_text(server: Server, name: str) -> None:
    """Finding 12: an offer valid enough for the SDP check that aiortc then fails on gets a fixed sentence (400
    invalid_offer), never aiortc's text (`invalid literal for int() with base 10: 'abc'`); the exception's type and
    text go to the server's log (escaped, like every log line) for the operator."""
    (old, new), text = UNUSABLE_OFFERS[name]
    sdp = asyncio.run(_offers(1))[0]
    assert old in sdp
    session = create(server)
    path = f"/v1/sessions/{session['session_id']}/offer"
    reply = call(server, "POST", path, {"sdp": sdp.replace(old, new), "type": "offer"}, key=session["client_token"])
    error = body_of(reply)["error"]
    assert reply.status == 400 and error["code"] == "invalid_offer", reply.body[:300]
    assert text not in reply.body.decode() and "Error" not in error["message"], error
    assert "int()" not in reply.body.decode() and "base 10" not in reply.body.decode()
    logged = [
        line for line in server.log().splitlines() if session["session_id"] in line and "refused the offer" in line
    ]
    assert logged and ("ValueError" in logged[0] or "KeyError" in logged[0]), server.log()[-2000:]


def test_demo_checks_never_hold_the_integrators_max_live_checks(server: Server) -> None:
    """max-live-checks = 1. Two keyless demo sessions given a valid offer and never connected. Before: the
    integrator's offer got 503 too_many_sessions for as long as the demo peers waited."""
    sdps = asyncio.run(_offers(3))
    for sdp in sdps[:2]:
        demo = body_of(demo_create(server))
        token = demo["widget_url"].split("#token=", 1)[1]
        answered = call(
            server, "POST", f"/v1/sessions/{demo['session_id']}/offer", {"sdp": sdp, "type": "offer"}, key=token
        )
        assert answered.status == 200, answered.body[:200]
    session = create(server)
    path = f"/v1/sessions/{session['session_id']}/offer"
    reply = call(server, "POST", path, {"sdp": sdps[2], "type": "offer"}, key=session["client_token"])
    assert reply.status == 200, reply.body[:300]


def test_one_address_holds_only_its_share_of_the_demo(server: Server) -> None:
    """demo-max-open 8, so one address's share is 4. Before: one address took every place (within its rate) and
    everyone else got demo_busy."""
    mine = [demo_create(server, "127.0.0.50") for _ in range(5)]
    assert [r.status for r in mine] == [200] * 4 + [429], [r.body[:100] for r in mine]
    assert body_of(mine[-1])["error"]["code"] == "demo_rate_limited"
    assert demo_create(server, "127.0.0.51").status == 200


# -- 6: signed results say when, how and for whom; signed with a key that is not the API key ---------------------


def test_a_signed_result_carries_when_how_and_whom_and_is_not_keyed_by_the_api_key(server: Server, media_bytes) -> None:
    """Before: iat was the read time, no exp, mode, assurance, decided_at or tenant, and the HMAC key was the API
    key (anyone able to verify could call the API; kid = the API key's fingerprint)."""
    session = started_fallback(server)
    upload(server, session, media_bytes("images/image_T1.jpg"), "video/mp4")
    view = body_of(call(server, "GET", f"/v1/sessions/{session['session_id']}"))
    token = view["signed_result"]
    assert jwt.get_unverified_header(token)["kid"] == SIGNING_KID
    claims = jwt.decode(token, SIGNING_SECRET, algorithms=["HS256"], issuer="livecheck", options={"require": ["exp"]})
    assert claims["session_id"] == claims["sub"] == session["session_id"]
    assert (claims["mode"], claims["assurance"], claims["alive"]) == ("recording", "low", False)
    assert claims["tenant"] == hashlib.sha256(KEY_A.encode()).hexdigest()[:16]
    assert claims["decided_at"] <= claims["iat"] and claims["exp"] == claims["iat"] + 300  # signed-result-ttl-s
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, KEY_A, algorithms=["HS256"])  # the API key does not verify it


# -- 7: detections are the key's own; log lines cannot be forged --------------------------------------------------


def test_a_detection_is_readable_only_with_the_key_that_made_it(server: Server, media_bytes) -> None:
    """Before: any configured key read another key's detection (the face PNG)."""
    reply = call(
        server,
        "POST",
        "/v1/video-liveness?return_detection=true",
        media_bytes("videos/d0.mp4"),
        **{"Content-Type": "video/mp4"},
    )
    assert reply.status == 200, reply.body[:300]
    detection = body_of(reply)["best_face"]["detection_id"]
    other = call(server, "GET", f"/v1/detections/{detection}", key=KEY_B)
    assert other.status == 404 and body_of(other)["code"] == "NOT_FOUND"
    own = call(server, "GET", f"/v1/detections/{detection}", key=KEY_A)
    assert own.status == 200 and body_of(own)["normalized"] and "_owner" not in body_of(own)


def test_a_request_path_cannot_forge_a_log_line(models_dir: Path, tmp_path: Path) -> None:
    """A server whose store is down logs each refused request with its path. Before: `%0A` in the path started
    a line of the attacker's choosing in the log."""
    env = {
        "LIVECHECK_API_KEYS": KEY_A,
        "LIVECHECK_STORE__URL": f"redis://127.0.0.1:{free_port()}/0",  # nobody listens: store_unavailable
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "1",
    }
    srv = Server(env, cwd=tmp_path, models_dir=models_dir)
    try:
        srv.serve.wait_ready(120, path="/healthz")
        reply = call(srv, "GET", "/v1/sessions/x%0AFORGED%20admin%20login%20ok%0D%1B[2J")
        assert reply.status == 503 and body_of(reply)["error"]["code"] == "store_unavailable"
        time.sleep(0.5)
        log = srv.log()
    finally:
        srv.stop()
    assert "session store unavailable in GET /v1/sessions/x" in log
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log[-2000:]
    assert "\x1b" not in log and "x\\nFORGED" in log
