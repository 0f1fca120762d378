"""Session routes over HTTP (Quart test client): API key, options, client tokens, the recording fallback.
Every response is checked against /openapi.json (api_support.CheckedClient). The WebRTC ones stay on loopback:
    unshare -n sh -c 'ip link set lo up && .venv/bin/pytest -q tests/webapp/test_sessions_api.py'
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import replace

import pytest

from realtime.client import FramesTrack, LiveClient
from tests.support.api_support import CheckedClient
from tests.support.mediagen import decode_frames, flip_byte
from tests.support.session_support import FallbackClient, ShiftedClock
from webapp.app import create_app
from webapp.config import load_config
from webapp.sessions import registry
from webapp.signing import derived_key, key_id, verify

KEY = "sessions-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
OTHER_KEY = "another-integrators-key"


@pytest.fixture
async def client(engine):
    config = load_config(None, {}, api_keys=f"{KEY},{OTHER_KEY}")
    config = replace(config, realtime=replace(config.realtime, ice_host_addresses=("127.0.0.1",)))
    app = create_app(config, engine=engine)
    async with app.test_app() as test_app:
        checked = CheckedClient(app)
        checked.client = test_app.test_client()
        checked.clock = ShiftedClock()  # the server's clock, moved forward by the fallback tests
        registry(app).clock = checked.clock
        yield checked
        assert checked.checked > 0


async def create(client, **options):
    response = await client.post("/v1/sessions", json=options, headers=AUTH)
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


async def test_create_and_read_a_session(client):
    assert (await client.post("/v1/sessions", json={})).status_code == 401
    body = await create(client, action_count=2, allowed_origins=["https://shop.example"], ttl=120)
    assert set(body) >= {"session_id", "client_token", "widget_url", "expires_at"}
    assert body["client_token"] not in (
        await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_data(as_text=True)
    )
    read = await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_json()
    assert read["status"] == "CREATED" and "result" not in read
    assert (await client.get(f"/v1/sessions/{body['session_id']}")).status_code == 401
    missing = await client.get("/v1/sessions/nope", headers=AUTH)
    assert missing.status_code == 404 and (await missing.get_json())["error"]["code"] == "session_not_found"


@pytest.mark.parametrize(
    "options, code",
    [
        ({"actions": ["fly"]}, "invalid_actions"),
        ({"action_count": 99}, "invalid_actions"),
        ({"action_count": "3"}, "invalid_session_options"),
        ({"ttl": 0}, "invalid_ttl"),
        ({"allowed_origins": ["javascript:x"]}, "invalid_allowed_origin"),
        ({"allowed_origins": "https://shop.example"}, "invalid_session_options"),
        ({"recording_fallback": "yes"}, "invalid_session_options"),
        ({"reference_photo": "%%%"}, "invalid_session_options"),
    ],
)
async def test_bad_options_are_clear_400s(client, options, code):
    response = await client.post("/v1/sessions", json=options, headers=AUTH)
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == code


async def test_reference_photo_without_a_face_is_refused(client):
    import cv2
    import numpy as np

    blank = cv2.imencode(".jpg", np.full((200, 200, 3), 128, np.uint8))[1].tobytes()
    response = await client.post(
        "/v1/sessions", json={"reference_photo": base64.b64encode(blank).decode()}, headers=AUTH
    )
    assert response.status_code == 400 and (await response.get_json())["error"]["code"] == "reference_no_face"


async def test_offer_needs_the_right_token(client):
    body = await create(client, action_count=0)
    url = f"/v1/sessions/{body['session_id']}/offer"
    wrong = await client.post(url, json={"sdp": "v=0", "type": "offer"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and (await wrong.get_json())["error"]["code"] == "invalid_token"
    bad = await client.post(url, json={"sdp": 5}, headers={"Authorization": f"Bearer {body['client_token']}"})
    assert bad.status_code == 400 and (await bad.get_json())["error"]["code"] == "invalid_offer"


async def test_recording_fallback_follows_the_server_clock(client, media_bytes):
    clip = media_bytes("videos/d12.mp4")
    # no action asked: the live clip, uploaded after the server's stop time, passes (passive checks only)
    body = await create(client, action_count=0, recording_fallback=True)
    fallback = FallbackClient(client, body, client.clock)
    run = await fallback.follow()
    assert run.start["total"] == 0 and run.start["next_prompt_ms"] is None and run.start["stop_at_ms"] is not None
    client.clock.advance(1.0)  # the upload's trip
    done = await fallback.upload(clip)
    assert (await done.get_json())["status"] == "SUCCEEDED"
    again = await fallback.upload(clip)
    assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "token_used"
    result = (await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_json())["result"]
    assert result["alive"] is True and result["mode"] == "recording" and result["assurance"] == "low"
    # one prompt at a time: the start says when to ask, never what; asking early is refused with the wait
    body = await create(client, actions=["nod"], recording_fallback=True)
    fallback = FallbackClient(client, body, client.clock)
    start = await fallback.start()
    assert start["total"] == 1 and "action" not in start and start["next_prompt_ms"] >= 2000
    early = await fallback.call("POST", "/next")
    assert early.status_code == 409 and (await early.get_json())["error"]["code"] == "prompt_not_due"
    assert int(early.headers["Retry-After"]) >= 1
    client.clock.advance(start["next_prompt_ms"] / 1000)
    prompt = await (await fallback.call("POST", "/next")).get_json()
    assert prompt["action"] == "nod" and prompt["index"] == 0 and prompt["deadline_ms"] >= 3500
    assert prompt["next_prompt_ms"] is None and prompt["stop_at_ms"] == prompt["elapsed_ms"] + prompt["deadline_ms"]
    more = await fallback.call("POST", "/next")
    assert more.status_code == 409 and (await more.get_json())["error"]["code"] == "no_more_prompts"
    state = await (await fallback.call("GET")).get_json()
    assert state["issued"] == 1 and "action" not in state
    # the offer cannot be used once the fallback claimed the session
    offer = await client.post(
        f"/v1/sessions/{body['session_id']}/offer", json={"sdp": "v=0", "type": "offer"}, headers=fallback.auth
    )
    assert offer.status_code == 409
    # d12 never nods -> FAILED naming nod (uploaded in time, within the timeline)
    client.clock.advance((prompt["stop_at_ms"] - prompt["elapsed_ms"]) / 1000 + 1)
    done = await fallback.upload(clip)
    assert (await done.get_json())["status"] == "FAILED"
    result = (await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_json())["result"]
    assert "actions_failed" in result["reasons"] and result["actions"][0]["passed"] is False
    assert result["mode"] == "recording" and result["assurance"] == "low"


async def test_fallback_only_when_the_session_allows_it(client):
    body = await create(client, actions=["nod"])
    token = {"Authorization": f"Bearer {body['client_token']}"}
    refused = await client.post(f"/v1/sessions/{body['session_id']}/fallback", headers=token)
    assert refused.status_code == 403 and (await refused.get_json())["error"]["code"] == "fallback_not_allowed"
    read = await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_json()
    assert read["status"] == "CREATED"  # nothing was claimed
    upload = await client.post(f"/v1/sessions/{body['session_id']}/recording", data=b"x", headers=token)
    assert upload.status_code == 403 and (await upload.get_json())["error"]["code"] == "fallback_not_allowed"


async def offer_over_http(client, body, frames, fps):
    """A real aiortc client whose SDP exchange goes through POST /v1/sessions/{id}/offer."""
    live = LiveClient(FramesTrack(frames, fps))
    token = {"Authorization": f"Bearer {body['client_token']}"}

    async def post(sdp: str) -> dict[str, str]:
        response = await client.post(
            f"/v1/sessions/{body['session_id']}/offer", json={"sdp": sdp, "type": "offer"}, headers=token
        )
        assert response.status_code == 200, await response.get_json()
        return await response.get_json()

    return live, post


async def test_fallback_after_a_connection_that_never_delivered_a_frame(client, media_bytes):
    clip = media_bytes("videos/d12.mp4")
    frames, fps = decode_frames(clip, 0.0, 1.0)
    body = await create(client, action_count=0, recording_fallback=True)
    sid, token = body["session_id"], {"Authorization": f"Bearer {body['client_token']}"}
    live, post = await offer_over_http(client, body, frames, fps)
    # the offer is answered, but the browser's side never completes ICE (it never applies the answer)
    offer = await live.pc.createOffer()
    await live.pc.setLocalDescription(offer)
    await post(live.pc.localDescription.sdp)
    await live.close()
    reg = registry(client.app)
    assert reg.counts()["peers"] == 1
    fallback = FallbackClient(client, body, client.clock)
    run = await fallback.follow()
    assert reg.counts()["peers"] == 0 and reg.counts()["landmarkers"] == 0
    assert (await (await client.post(f"/v1/sessions/{sid}/fallback", headers=token)).get_json())["total"] == 0
    again = await client.post(f"/v1/sessions/{sid}/offer", json={"sdp": "v=0", "type": "offer"}, headers=token)
    assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "token_used"
    assert run.start["stop_at_ms"] is not None
    client.clock.advance(1.0)
    done = await fallback.upload(clip)
    assert (await done.get_json())["status"] == "SUCCEEDED"
    read = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
    assert read["status"] == "SUCCEEDED" and read["result"]["mode"] == "recording"


async def test_no_fallback_once_live_frames_were_analyzed(client, media_bytes):
    frames, fps = decode_frames(media_bytes("videos/d12.mp4"))
    body = await create(client, actions=["nod"], recording_fallback=True)  # d12 never nods: runs to its deadline
    sid, token = body["session_id"], {"Authorization": f"Bearer {body['client_token']}"}
    live, post = await offer_over_http(client, body, frames, fps)
    try:
        await live.connect(post)
        await asyncio.wait_for(live.prompted.wait(), 20)
        refused = await client.post(f"/v1/sessions/{sid}/fallback", headers=token)
        assert refused.status_code == 409 and (await refused.get_json())["error"]["code"] == "token_used"
        read = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
        assert read["status"] == "IN_PROGRESS"
    finally:
        await live.close()
    reg = registry(client.app)
    for _ in range(200):
        if reg.counts()["peers"] == 0:
            break
        await asyncio.sleep(0.05)
    read = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
    assert read["status"] == "FAILED" and read["result"]["mode"] == "live"


@pytest.mark.parametrize("upload, code", [(b"", "empty_recording"), ("corrupt", None)])
async def test_a_refused_recording_fails_the_session(client, media_bytes, upload, code):
    if upload == "corrupt":
        upload = flip_byte(media_bytes("videos/d12.mp4")[:4000], 100)  # a cut-off, damaged file
    body = await create(client, action_count=0, recording_fallback=True)
    sid, token = body["session_id"], {"Authorization": f"Bearer {body['client_token']}"}
    assert (await client.post(f"/v1/sessions/{sid}/fallback", headers=token)).status_code == 200
    refused = await client.post(
        f"/v1/sessions/{sid}/recording", data=upload, headers={**token, "Content-Type": "video/mp4"}
    )
    assert 400 <= refused.status_code < 500
    error = (await refused.get_json())["error"]["code"]
    assert error == (code or error) and error not in ("token_used", "invalid_token")
    read = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
    assert read["status"] == "FAILED" and read["result"]["reasons"] == [error]
    again = await client.post(f"/v1/sessions/{sid}/recording", data=media_bytes("videos/d12.mp4"), headers=token)
    assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "token_used"


async def test_decided_result_is_signed_with_the_readers_key_and_private_to_its_creator(client, media_bytes):
    body = await create(client, action_count=0, recording_fallback=True)
    sid = body["session_id"]
    undecided = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
    assert "signed_result" not in undecided
    fallback = FallbackClient(client, body, client.clock)
    await fallback.follow()
    client.clock.advance(1.0)
    done = await fallback.upload(media_bytes("videos/d12.mp4"))
    assert (await done.get_json())["status"] == "SUCCEEDED"

    view = await (await client.get(f"/v1/sessions/{sid}", headers=AUTH)).get_json()
    claims = verify(view["signed_result"], derived_key(KEY))
    assert claims["sub"] == sid and claims["status"] == "SUCCEEDED" and claims["alive"] is True
    assert claims["reasons"] == view["result"]["reasons"] == []
    canonical = json.dumps(view["result"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert claims["result_sha256"] == hashlib.sha256(canonical).hexdigest()
    header = json.loads(base64.urlsafe_b64decode(view["signed_result"].split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": key_id(KEY)}

    # a browser cannot forge it: another key does not verify, and an altered claim breaks the signature
    with pytest.raises(ValueError):
        verify(view["signed_result"], derived_key(OTHER_KEY))
    head, payload, mac = view["signed_result"].split(".")
    forged = dict(claims, status="SUCCEEDED", alive=True, sub="someone-else")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(ValueError):
        verify(f"{head}.{forged_payload}.{mac}", derived_key(KEY))

    # another integrator cannot read (or learn of) this session
    other = await client.get(f"/v1/sessions/{sid}", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert other.status_code == 404 and (await other.get_json())["error"]["code"] == "session_not_found"
