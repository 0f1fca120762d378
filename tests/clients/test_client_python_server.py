"""clients/python against a real `livecheck serve` (evaluation.local_server.ServeProcess on 127.0.0.1): the async
client creates sessions (and hears the server's warnings), reads them, maps refusals to typed errors, waits for a
decision and verifies the signed result the server produced; the sync client does the same calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from livecheck_client import LiveCheckApiError, LiveCheckClient, SignatureError, SyncLiveCheckClient

from evaluation.local_server import ServeProcess

KEY = "python-client-test-key"
OTHER_KEY = "another-integrator-key"


@pytest.fixture(scope="module")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("client") / "serve.log"
    env = {
        "LIVECHECK_API_KEYS": f"{KEY},{OTHER_KEY}",
        "LIVECHECK_MODELS": str(models_dir),
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "1",
        "LIVECHECK_STORE__URL": f"sqlite:///{log.parent / 'livecheck.db'}",
    }
    serve = ServeProcess.start(log, env=env)
    try:
        serve.wait_ready(90)
        yield serve.url
    finally:
        serve.stop(20)


async def decided_by_a_refused_recording(base: str, lc: LiveCheckClient) -> str:
    """A session decided without a camera: its recording fallback gets bytes that are no video (FAILED, decided at
    once, with a signed result)."""
    created = await lc.create_session(action_count=1, recording_fallback=True, allowed_origins=["https://shop.example"])
    auth = {"Authorization": f"Bearer {created.client_token}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as browser:
        assert (await browser.post(f"/v1/sessions/{created.session_id}/fallback")).status_code == 200
        refused = await browser.post(
            f"/v1/sessions/{created.session_id}/recording",
            content=b"not a video",
            headers={"Content-Type": "video/webm"},
        )
        assert 400 <= refused.status_code < 500, refused.text
    return created.session_id


def test_async_client_sessions_errors_and_a_verified_result(server: str) -> None:
    async def run() -> None:
        async with LiveCheckClient(server, KEY) as lc:
            bare = await lc.create_session(actions=["turn_left"])
            assert [w.code for w in bare.warnings] == ["no_allowed_origins"]
            assert bare.widget_url.startswith(f"{server}/widget/{bare.session_id}#token=")
            done = "https://shop.example/done"
            framed = await lc.create_session(action_count=2, allowed_origins=["https://shop.example"], return_url=done)
            assert framed.warnings == [] and "&return=" in framed.widget_url
            read = await lc.get_session(framed.session_id)
            assert (read.status, read.decided, read.signed_result) == ("CREATED", False, None)
            with pytest.raises(LiveCheckApiError) as refused:
                await lc.create_session(actions=["juggle"])
            assert refused.value.status == 400 and refused.value.code == "invalid_actions"
            with pytest.raises(LiveCheckApiError) as missing:
                await lc.get_session("no-such-session")
            assert (missing.value.status, missing.value.code) == (404, "session_not_found")

            session_id = await decided_by_a_refused_recording(server, lc)
            session = await lc.wait_for_result(session_id, timeout_s=30, interval_s=0.2)
            assert session.status == "FAILED" and session.result is not None and session.signed_result
            claims = lc.verify(session)
            assert (claims.session_id, claims.status, claims.alive) == (session_id, "FAILED", False)
            assert claims.reasons == session.result["reasons"]
            assert claims.expires_at > claims.issued_at

            altered = type(session)(
                session.session_id,
                session.status,
                {**session.result, "alive": True},
                session.signed_result,
                session.raw,
            )
            with pytest.raises(SignatureError):
                lc.verify(altered)
        async with LiveCheckClient(server, OTHER_KEY) as other:
            with pytest.raises(LiveCheckApiError) as hidden:  # another integrator's session does not exist for it
                await other.get_session(session_id)
            assert hidden.value.status == 404
            with pytest.raises(SignatureError):  # nor does its signature verify with this key
                other.verifier.verify(session.signed_result or "")

    # in a thread of its own: a test session that also drives Playwright has an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def test_sync_client(server: str) -> None:
    with SyncLiveCheckClient(server, KEY) as lc:
        created = lc.create_session(actions=["blink"], allowed_origins=["https://shop.example"])
        assert lc.get_session(created.session_id).status == "CREATED"
        with pytest.raises(LiveCheckApiError) as refused:
            lc.create_session(allowed_origins=["https://shop.example"], return_url="https://evil.example/")
        assert refused.value.code == "invalid_session_options"
    with pytest.raises(LiveCheckApiError) as unauthorized, SyncLiveCheckClient(server, "wrong-key") as nobody:
        nobody.get_session(created.session_id)
    assert unauthorized.value.status == 401
