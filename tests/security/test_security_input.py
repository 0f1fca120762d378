"""Security issue 10, input half: each finding as the attack that showed it, against the scoring functions, the
app, and a real `livecheck serve` whose memory is read from /proc.

- Finding 2 (pools): live checks and uploads draw landmarkers from separate pools; every wait is bounded and a
  request that cannot be served in time gets 503 + Retry-After.
- Finding 3 (bombs): a 1 KB image claiming 16000x16000 is refused from its header, without decoding; the
  server's peak memory does not move.
- Finding 4 (playlists): an ffconcat/HLS upload naming a file in the server's working directory opens nothing,
  and the answer is the same whether the file exists or not.
- Finding 5 (no 5xx): nested / non-UTF-8 JSON is a 400 everywhere; a WebM with an unknown codec id is 415
  unsupported_media on every video endpoint; an unexpected error is a logged 500 carrying the request id; a sweep
  of every route with malformed bodies meets no 5xx.
- Finding 6 (resolution): an H.264 stream that grows from 64x64 to 7680x4320 mid-stream is refused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.protocol import decode_client
from scoring import errors as codes
from scoring.engine import LivenessEngine
from scoring.errors import InputError, Overloaded
from scoring.image_header import read_header
from scoring.media import VideoReader, decode_image, preflight
from scoring.safe_json import JsonError, loads
from scoring.settings import EngineSettings, MediaLimits
from tests.support.api_support import AUTH, make_app, make_config
from tests.support.fuzzing import (
    ffconcat_playlist,
    hls_playlist,
    jpeg_fill_byte_bomb,
    jpeg_progressive_bomb,
    multipart,
    nested_json,
    nested_object,
    resolution_switch_h264,
    rle_bmp_bomb,
    unknown_codec_webm,
    webp_header_bomb,
)
from tests.support.mediagen import cut_clip
from tests.support.serverproc import Server
from webapp.app import create_app
from webapp.config import ConfigError
from webapp.server import hypercorn_config
from webapp.workers import Busy, WorkerPool

LIMITS = MediaLimits()
KEY = "security-test-key"
# Refused from the header. A baseline JPEG up to 8x over the limit per side is decoded at 1/2-1/8 scale instead
# (phone photos; libjpeg's DCT scaling never allocates the full picture), so its bomb here is 65000x65000.
BOMBS = {
    "bmp_rle": rle_bmp_bomb,
    "jpeg_progressive": jpeg_progressive_bomb,
    "webp_vp8l": webp_header_bomb,
    "jpeg_fill_byte": lambda: jpeg_fill_byte_bomb(65000, 65000),
}


# -- finding 3: image dimensions from every legal header form ---------------------------------------------------


def _encoded(ext: str, width: int, height: int, params: list[int] | None = None) -> bytes:
    rng = np.random.default_rng(width * height)
    ok, buf = cv2.imencode(ext, rng.integers(0, 255, (height, width, 3), dtype=np.uint8), params or [])
    assert ok
    return buf.tobytes()


def _jpeg_with_extras(width: int, height: int) -> bytes:
    """A JPEG with a COM segment, fill bytes before every marker after SOI, and a TEM stand-alone marker."""
    data = _encoded(".jpg", width, height)
    body = data[2:].replace(b"\xff\xdb", b"\xff\xff\xff\xdb").replace(b"\xff\xc0", b"\xff\xff\xc0")
    return b"\xff\xd8\xff\x01\xff\xfe\x00\x06hello" + body


def _bmp_top_down(width: int, height: int) -> bytes:
    data = bytearray(_encoded(".bmp", width, height))
    data[22:26] = (-height).to_bytes(4, "little", signed=True)
    return bytes(data)


def _bmp_core(width: int, height: int) -> bytes:
    """OS/2 BITMAPCOREHEADER (12 bytes, 16-bit sizes), 24 bits per pixel."""
    row = (width * 3 + 3) // 4 * 4
    pixels = bytes(row * height)
    header = (
        width.to_bytes(2, "little")
        + height.to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (24).to_bytes(2, "little")
    )
    offset = 14 + 12
    return (
        b"BM"
        + (offset + len(pixels)).to_bytes(4, "little")
        + bytes(4)
        + offset.to_bytes(4, "little")
        + (12).to_bytes(4, "little")
        + header
        + pixels
    )


HEADER_FORMS = {
    "jpeg_baseline": lambda w, h: _encoded(".jpg", w, h),
    "jpeg_progressive": lambda w, h: _encoded(".jpg", w, h, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    "jpeg_fill_com_tem": _jpeg_with_extras,
    "png": lambda w, h: _encoded(".png", w, h),
    "webp_lossy": lambda w, h: _encoded(".webp", w, h, [cv2.IMWRITE_WEBP_QUALITY, 80]),
    "webp_lossless": lambda w, h: _encoded(".webp", w, h, [cv2.IMWRITE_WEBP_QUALITY, 101]),
    "bmp_info": lambda w, h: _encoded(".bmp", w, h),
    "bmp_top_down": _bmp_top_down,
    "bmp_core": _bmp_core,
}


@pytest.mark.unit
@pytest.mark.parametrize("form", sorted(HEADER_FORMS))
def test_header_size_matches_what_the_decoder_decodes(form: str) -> None:
    for width, height in ((37, 23), (64, 301)):
        data = HEADER_FORMS[form](width, height)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded is not None, form
        header = read_header(data)
        assert header is not None, form
        assert (header.width, header.height) == (decoded.shape[1], decoded.shape[0]) == (width, height), form
        assert decode_image(data, LIMITS).shape[:2] == (height, width)


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_image_bombs_are_refused_from_the_header_without_decoding(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = BOMBS[name]()
    assert len(data) < 2048
    header = read_header(data)
    assert header is not None and header.width * header.height > LIMITS.image_pixels

    def must_not_decode(*args: object) -> None:
        raise AssertionError("cv2.imdecode called on a bomb")

    monkeypatch.setattr(cv2, "imdecode", must_not_decode)
    with pytest.raises(InputError) as caught:
        decode_image(data, LIMITS)
    assert caught.value.code == codes.RESOLUTION_TOO_HIGH


@pytest.mark.unit
@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n" + bytes(8) + b"IDAT" + bytes(8),
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"\xff\xd8\xff\xda\x00\x08",
        b"BM" + bytes(12),
        b"RIFF\x00\x00\x00\x00WEBPVP8X",
    ],
)
def test_an_image_whose_size_cannot_be_read_is_refused(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded an image of unknown size"))
    with pytest.raises(InputError) as caught:
        decode_image(data, LIMITS)
    assert caught.value.code == codes.CORRUPT_MEDIA


# -- finding 4: playlists -----------------------------------------------------------------------------------------


def test_playlists_open_no_file_and_tell_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media_bytes) -> None:
    (tmp_path / "pic.jpg").write_bytes(media_bytes("images/image_F1.jpg"))
    cv2.imwrite(str(tmp_path / "pic.png"), np.full((64, 64, 3), 90, np.uint8))
    monkeypatch.chdir(tmp_path)
    answers = []
    for upload in (
        ffconcat_playlist("pic.png"),
        ffconcat_playlist("pic.jpg"),
        ffconcat_playlist("missing.png"),
        hls_playlist("pic.png"),
        hls_playlist("missing.png"),
    ):
        with pytest.raises(InputError) as caught:
            preflight(upload, LIMITS)
        answers.append((caught.value.code, caught.value.message))
    assert {code for code, _ in answers} == {codes.UNSUPPORTED_MEDIA}
    assert len(set(answers)) == 1, "an existing and a missing file must get the same answer"


# -- finding 5: codec-less streams, JSON ----------------------------------------------------------------------------


@pytest.mark.unit
def test_webm_with_an_unknown_codec_id_is_unsupported_media() -> None:
    with pytest.raises(InputError) as caught:
        preflight(unknown_codec_webm(), LIMITS)
    assert caught.value.code == codes.UNSUPPORTED_MEDIA


@pytest.mark.unit
@pytest.mark.parametrize(
    "raw",
    [
        nested_json(100_000),
        nested_object(100_000),
        nested_json(33),
        b"\xff\xfe{\x00}\x00",
        b'{"a": "\xc3\x28"}',
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b"[NaN]",
        b"[-Infinity]",
        b"[" + b"9" * 5000 + b"]",
    ],
)
def test_safe_json_refuses(raw: bytes) -> None:
    with pytest.raises(JsonError):
        loads(raw)


@pytest.mark.unit
def test_safe_json_accepts_what_the_apis_send() -> None:
    body = {
        "sdp": "v=0\r\n",
        "type": "offer",
        "n": [1, 2.5, None, True],
        "deep": json.loads(nested_json(31)),
        "name": "Ünïcode 😀",
    }
    assert loads(json.dumps(body).encode()) == body
    assert loads(json.dumps(body, ensure_ascii=False).encode()) == body


@pytest.mark.unit
def test_data_channel_messages_with_deep_nesting_are_ignored() -> None:
    assert decode_client(b'{"v":1,"type":"ready","x":' + nested_json(2000) + b"}") is None
    assert decode_client(b'{"v":1,"type":"ready"}') is not None


# -- finding 6: frame size on every decoded frame ------------------------------------------------------------------


@pytest.fixture(scope="module")
def resolution_switch() -> bytes:
    return resolution_switch_h264()


@pytest.mark.unit
def test_a_stream_that_grows_mid_stream_is_refused(resolution_switch: bytes) -> None:
    reader = VideoReader(resolution_switch, LIMITS)
    assert (reader.info.width, reader.info.height) == (64, 64)  # the header says small
    with pytest.raises(InputError) as caught:
        for _ in reader.frames(15.0, 720):
            pass
    reader.close()
    assert caught.value.code == codes.RESOLUTION_TOO_HIGH
    assert "7680x4320" in caught.value.message


# -- finding 2: pools and bounded waits ----------------------------------------------------------------------------


@pytest.mark.unit
async def test_a_job_waiting_for_a_worker_gives_up_with_busy() -> None:
    pool = WorkerPool(1, 2, queue_wait_s=0.3, job_timeout_s=30)
    gate = threading.Event()
    try:
        first = asyncio.ensure_future(pool.run(gate.wait, 10))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(Busy) as caught:
            await pool.run(lambda: "never")
        assert 0.25 < time.monotonic() - started < 3
        assert caught.value.retry_after_s >= 1
        gate.set()
        assert await first is True
    finally:
        gate.set()
        pool.close()


@pytest.mark.unit
async def test_a_job_past_its_deadline_is_answered_busy_and_keeps_its_slot() -> None:
    pool = WorkerPool(1, 0, queue_wait_s=5, job_timeout_s=0.3)
    gate = threading.Event()
    try:
        with pytest.raises(Busy):
            await pool.run(gate.wait, 10)
        assert pool.in_flight == 1, "the thread still runs the job: its slot is not given away"
        with pytest.raises(Busy):
            await pool.run(lambda: "refused at once")
        gate.set()
        for _ in range(100):
            if pool.in_flight == 0:
                break
            time.sleep(0.02)
        assert await pool.run(lambda: "ok") == "ok"
    finally:
        gate.set()
        pool.close()


@pytest.fixture(scope="module")
def small_engine(models_dir: Path) -> Iterator[LivenessEngine]:
    """One landmarker per pool and a short wait, so a test can hold a whole pool."""
    engine = LivenessEngine.load(
        replace(EngineSettings(), landmarker_wait_s=0.3), str(models_dir), landmarkers=1, live_landmarkers=1
    )
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def short_clip(media_bytes) -> bytes:
    return cut_clip(media_bytes("videos/d0.mp4"), 0.0, 2.4, size=(320, 320))


def test_live_checks_and_uploads_use_separate_pools(small_engine: LivenessEngine, short_clip: bytes) -> None:
    analyzer, token = small_engine.stream_analyzer()  # the only live landmarker, held as a live check holds it
    try:
        started = time.monotonic()
        with pytest.raises(Overloaded):
            small_engine.stream_analyzer()
        assert time.monotonic() - started < 3, "the wait for a live landmarker is bounded"
        verdict = small_engine.analyze(short_clip)  # an upload is not stuck behind the live check
        assert verdict.frames_analyzed > 0
    finally:
        small_engine.release(token)


async def test_an_upload_that_cannot_get_a_landmarker_in_time_gets_503_with_retry_after(
    small_engine: LivenessEngine, short_clip: bytes
) -> None:
    app = make_app(small_engine)
    client = app.test_client()
    held = small_engine.models.landmarkers.acquire()
    try:
        response = await client.post("/v1/analyze", data=short_clip, headers={**AUTH, "Content-Type": "video/mp4"})
        body = await response.get_json()
        assert response.status_code == 503, body
        assert body["error"]["code"] == "busy"
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        small_engine.models.landmarkers.release(held)
    response = await client.post("/v1/analyze", data=short_clip, headers={**AUTH, "Content-Type": "video/mp4"})
    assert response.status_code == 200


@pytest.mark.unit
def test_server_timeouts_are_settings() -> None:
    config = make_config(read_timeout_s=120.0, keep_alive_timeout_s=7.0)
    hc = hypercorn_config(config)
    assert (hc.read_timeout, hc.keep_alive_timeout) == (120, 7.0)
    with pytest.raises(ConfigError, match="read-timeout-s"):
        create_app(make_config(read_timeout_s=30.0, request_timeout_s=60.0))


# -- finding 5 through the app: JSON on every JSON route, codec-less video on every video route, the sweep ----------

BAD_JSON = {
    # deep enough to overflow a recursive parser, small enough (60 KB) to pass every route's byte limit, so it is
    # the depth that is refused (an offer over 64 KiB is a 413 before it is parsed)
    "nested_array": nested_json(30_000),
    "nested_object": nested_object(10_000),
    "utf16": '{"sdp": "x"}'.encode("utf-16"),
    "latin1": '{"sdp": "caf\xe9"}'.encode("latin-1"),
    "surrogate": b'{"sdp": "\\ud800", "type": "offer"}',
}


@pytest.fixture(scope="module")
def session_app(engine):  # type: ignore[no-untyped-def]
    return make_app(engine)


@pytest.mark.parametrize("kind", sorted(BAD_JSON))
async def test_bad_json_is_a_400_on_every_json_route(session_app, kind: str) -> None:  # type: ignore[no-untyped-def]
    client = session_app.test_client()
    created = await client.post("/v1/sessions", json={}, headers=AUTH)
    assert created.status_code == 201
    session = await created.get_json()
    routes = [
        ("/v1/sessions", AUTH),
        (f"/v1/sessions/{session['session_id']}/offer", {"Authorization": f"Bearer {session['client_token']}"}),
        ("/v2/proj/live-detect", AUTH),
        ("/liveness", AUTH),
    ]
    for path, auth in routes:
        response = await client.post(path, data=BAD_JSON[kind], headers={**auth, "Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.status_code, await response.get_data(as_text=True))


async def test_unknown_codec_is_unsupported_media_on_every_video_endpoint(session_app) -> None:  # type: ignore[no-untyped-def]
    client = session_app.test_client()
    video = unknown_codec_webm()
    native = await client.post("/v1/analyze", data=video, headers={**AUTH, "Content-Type": "video/webm"})
    assert native.status_code == 415 and (await native.get_json())["error"]["code"] == codes.UNSUPPORTED_MEDIA
    findface = await client.post("/v1/video-liveness", data=video, headers={**AUTH, "Content-Type": "video/webm"})
    assert findface.status_code == 415 and (await findface.get_json())["code"] == "UNSUPPORTED_MEDIA"
    huawei = await client.post(
        "/v2/proj/live-detect", headers=AUTH, json={"video_base64": base64.b64encode(video).decode(), "actions": "1"}
    )
    assert huawei.status_code == 400 and (await huawei.get_json())["error_code"] == "FRS.0701"
    ok, jpeg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    body, kind = multipart(
        {
            "encrypted_video": base64.b64encode(video).decode(),
            "encrypted_image": base64.b64encode(jpeg.tobytes()).decode(),
        }
    )
    silent = await client.post(
        "/identity/silent_image_verification/stateless", data=body, headers={**AUTH, "Content-Type": kind}
    )
    assert 400 <= silent.status_code < 500, await silent.get_data(as_text=True)


async def test_an_unexpected_error_is_a_logged_500_with_the_request_id(
    engine, short_clip: bytes, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(engine)

    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(engine, "analyze", broken)
    caplog.set_level(logging.ERROR, logger="livecheck")
    response = await app.test_client().post(
        "/v1/analyze", data=short_clip, headers={**AUTH, "Content-Type": "video/mp4", "X-Request-Id": "req-abc-123"}
    )
    assert response.status_code == 500
    body = await response.get_json()
    assert body["error"]["code"] == "internal" and body["error"]["request_id"] == "req-abc-123"
    assert response.headers["X-Request-Id"] == "req-abc-123"
    assert "simulated bug" not in json.dumps(body), "no internals in the answer"
    assert any("req-abc-123" in r.getMessage() and r.exc_info for r in caplog.records), "logged with traceback and id"


SWEEP_BODIES = {
    "nested": (nested_json(100_000), "application/json"),
    "not_utf8": (b'{"a": "\xff\xfe"}', "application/json"),
    "binary_as_video": (bytes(range(256)) * 8, "video/mp4"),
    "bad_multipart": (
        b'--x\r\nContent-Disposition: form-data; name="media"\r\n\r\nabc',
        "multipart/form-data; boundary=x",
    ),
    "form": (b"encrypted_video=%ZZ&encrypted_image=" + b"A" * 10, "application/x-www-form-urlencoded"),
    "empty": (b"", "application/json"),
}


async def test_sweep_every_route_with_malformed_bodies_meets_no_5xx_but_busy(session_app) -> None:  # type: ignore[no-untyped-def]
    client = session_app.test_client()
    created = await (await client.post("/v1/sessions", json={}, headers=AUTH)).get_json()
    values = {
        "session_id": created["session_id"],
        "project_id": "p",
        "detection_id": "d" * 32,
        "lang": "en",
        "name": "widget/main.js",
    }
    swept = 0
    for rule in session_app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", values.get(name, "x")).replace(f"<path:{name}>", values.get(name, "x"))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for label, (body, kind) in SWEEP_BODIES.items():
                for auth in (AUTH, {}, {"Authorization": f"Bearer {created['client_token']}"}):
                    response = await client.open(
                        path,
                        method=method,
                        data=body,
                        headers={**auth, "Content-Type": kind, "Origin": "http://localhost"},
                    )
                    swept += 1
                    busy = response.status_code == 503 and ("Retry-After" in response.headers or path == "/readyz")
                    assert response.status_code < 500 or busy, (
                        method,
                        path,
                        label,
                        response.status_code,
                        (await response.get_data(as_text=True))[:300],
                    )
    assert swept > 200


# -- a real server: memory, files, resolution -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(models_dir: Path, media: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-cwd")  # where a relative playlist entry would point
    (workdir / "pic.jpg").write_bytes((media / "images" / "image_F1.jpg").read_bytes())
    cv2.imwrite(str(workdir / "pic.png"), np.full((64, 64, 3), 90, np.uint8))
    proc = Server(
        {"LIVECHECK_API_KEYS": KEY, "LIVECHECK_SERVER__WORKERS": "2", "LIVECHECK_SERVER__LANDMARKERS": "2"},
        cwd=workdir,
        models_dir=models_dir,
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _post(server: Server, path: str, body: bytes, kind: str) -> tuple[int, dict]:
    reply = server.request("POST", path, body, {"Authorization": f"Bearer {KEY}", "Content-Type": kind}, timeout=60)
    assert reply.status, reply.error
    return reply.status, json.loads(reply.body or b"{}")


def test_image_bombs_do_not_raise_the_servers_peak_memory(server: Server) -> None:
    assert server.reset_peak(), "needs /proc/<pid>/clear_refs (Linux)"
    base = server.rss_mb()
    for name, build in BOMBS.items():
        status, body = _post(server, "/v1/analyze", build(), "image/jpeg")
        assert (status, body["error"]["code"]) == (422, codes.RESOLUTION_TOO_HIGH), name
    # The issue's own 16000x16000 fill-byte JPEG: decoded at 1/8 scale (2000x2000), never at full size.
    status, _ = _post(server, "/v1/analyze", jpeg_fill_byte_bomb(), "image/jpeg")
    assert status in (200, 422)
    with ThreadPoolExecutor(2) as pool:  # two at once
        statuses = list(
            pool.map(lambda b: _post(server, "/v1/analyze", b(), "image/bmp")[0], [rle_bmp_bomb, jpeg_progressive_bomb])
        )
    assert statuses == [422, 422]
    growth = server.peak_mb() - base
    print(f"server peak memory growth over 7 image bombs: {growth:.0f} MB")
    assert growth < 200, f"peak memory grew {growth:.0f} MB"


def test_playlist_uploads_open_nothing_on_the_server(server: Server) -> None:
    answers = []
    for upload in (
        ffconcat_playlist("pic.png"),
        ffconcat_playlist("pic.jpg"),
        ffconcat_playlist("nothing.png"),
        hls_playlist("pic.png"),
    ):
        status, body = _post(server, "/v1/analyze", upload, "video/mp4")
        answers.append((status, body["error"]["code"], body["error"]["message"]))
    assert answers[0] == (415, codes.UNSUPPORTED_MEDIA, answers[0][2])
    assert len(set(answers)) == 1, answers


def test_resolution_switch_is_refused_by_the_server(server: Server, resolution_switch: bytes) -> None:
    server.reset_peak()
    base = server.rss_mb()
    status, body = _post(server, "/v1/video-liveness", resolution_switch, "video/mp4")
    assert status == 422, body
    growth = server.peak_mb() - base
    print(f"server peak memory growth for the 64x64 -> 7680x4320 stream: {growth:.0f} MB")
    assert growth < 200


def test_requests_that_cannot_get_a_worker_in_time_get_503_not_a_silent_close(models_dir: Path, media: Path) -> None:
    """One worker, a 0.5 s bound on waiting for it, and four clips at once (each takes seconds to analyze): the
    first is served, the ones that could not start in time get 503 + Retry-After; every connection is answered."""
    clip = cut_clip((media / "videos" / "d0.mp4").read_bytes(), 0.0, 8.0, size=(480, 480))
    proc = Server(
        {
            "LIVECHECK_API_KEYS": KEY,
            "LIVECHECK_SERVER__WORKERS": "1",
            "LIVECHECK_SERVER__QUEUE": "4",
            "LIVECHECK_SERVER__QUEUE_WAIT_S": "0.5",
        },
        models_dir=models_dir,
    )
    try:
        proc.wait_ready()
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "video/mp4"}
        with ThreadPoolExecutor(4) as pool:
            replies = list(
                pool.map(lambda _: proc.request("POST", "/v1/video-liveness", clip, headers, timeout=60), range(4))
            )
    finally:
        proc.stop()
    statuses = sorted(r.status for r in replies)
    assert 0 not in statuses, [r.error for r in replies]
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    assert all(int(r.headers["retry-after"]) >= 1 for r in replies if r.status == 503)
    assert set(statuses) <= {200, 503}
