"""Silent image verification: AES-256-GCM fields (or plain base64), liveness + face match, system codes."""

from __future__ import annotations

import base64
import os

import cv2
import numpy as np
import pytest

from tests.support.api_support import AUTH, CheckedClient, make_app
from tests.support.mediagen import cut_clip, decode_frames, jpeg, read_rgb, repeated_frame_clip
from webapp.api_silent import encrypt

URL = "/identity/silent_image_verification/stateless"
AES_KEY, AES_IV = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"  # the document's sample values


# The document's table, written out here (not read from the code): code -> message, exactly.
DOCUMENTED = {
    1200: "invalid argument",
    2003: "invalid image size",
    2004: "invalid content length",
    2005: "invalid image type or corrupted",
    4000: "detection failed",
    4004: "face occlusion",
    4007: "liveness silent check failed",
}


@pytest.fixture(scope="module")
def app(engine):
    return make_app(engine, silent_aes_key=AES_KEY, silent_aes_iv=AES_IV)


@pytest.fixture(scope="module")
def d0_photo(media_bytes) -> bytes:
    """A frame of d0 as the ID photo of the same person."""
    frames, _ = decode_frames(media_bytes("videos/d0.mp4"), 0.0, 0.1)
    return jpeg(frames[0])


def form(video: bytes, image: bytes, **flags: str) -> dict[str, str]:
    return {
        "encrypted_video": encrypt(video, AES_KEY, AES_IV),
        "encrypted_image": encrypt(image, AES_KEY, AES_IV),
        **flags,
    }


async def test_live_video_same_person_passes(client, media_bytes, d0_photo):
    r = await client.post(
        URL,
        form=form(
            media_bytes("videos/d0.mp4"), d0_photo, return_status="true", return_image="true", return_face_image="true"
        ),
        headers=AUTH,
    )
    assert r.status_code == 200
    body = await r.get_json()
    assert body["code"] == 1000 and body["passed"] is True and body["liveness_status"] == "ok"
    assert body["liveness_score"] >= 0.5  # the calibrated probability: >= 0.5 exactly when passed
    assert body["verification_score"] > 0.7
    assert base64.b64decode(body["base64_image"])[:3] == b"\xff\xd8\xff" and 0 <= body["image_timestamp"] <= 3.2
    assert base64.b64decode(body["base64_face_image"])[:4] == b"\x89PNG"
    assert body["request_id"] == r.headers["X-Request-Id"]


async def test_other_person_scores_low(client, media_bytes):
    r = await client.post(URL, form=form(media_bytes("videos/d0.mp4"), media_bytes("identity/obama.jpg")), headers=AUTH)
    body = await r.get_json()
    assert body["passed"] is True and body["verification_score"] < 0.7 and "liveness_status" not in body


async def test_attack_and_short_video(client, media_bytes, d0_photo):
    clip = repeated_frame_clip(read_rgb(media_bytes("images/image_F2.jpg")), seconds=3.0)
    r = await client.post(URL, form=form(clip, d0_photo, return_status="true", return_image="true"), headers=AUTH)
    body = await r.get_json()
    assert body["passed"] is False and body["liveness_status"] == "hack"
    assert body["liveness_score"] < 0.5
    assert "verification_score" not in body and "base64_image" not in body
    short = cut_clip(media_bytes("videos/d0.mp4"), 0.0, 1.2)
    r = await client.post(URL, form=form(short, d0_photo, return_status="true"), headers=AUTH)
    body = await r.get_json()
    assert body["passed"] is False and body["liveness_status"] == "short_time"


async def test_plain_base64_without_key(engine, media_bytes, d0_photo):
    client = CheckedClient(make_app(engine))
    fields = {
        "encrypted_video": base64.b64encode(media_bytes("videos/d0.mp4")).decode(),
        "encrypted_image": base64.b64encode(d0_photo).decode(),
    }
    r = await client.post(URL, form=fields, headers=AUTH)
    assert r.status_code == 200 and (await r.get_json())["passed"] is True


async def test_system_codes(client, media_bytes, d0_photo):
    video = media_bytes("videos/d0.mp4")
    blank = jpeg(np.full((480, 480, 3), 200, np.uint8))
    # Over limits.image-pixels: a JPEG would be decoded at reduced scale (valid phone photos), a PNG is refused.
    huge = cv2.imencode(".png", np.zeros((4100, 4100, 3), np.uint8))[1].tobytes()
    cases = [
        ({"encrypted_image": encrypt(d0_photo, AES_KEY, AES_IV)}, 1200),
        ({"encrypted_video": "!!!", "encrypted_image": "!!!"}, 1200),
        (
            {
                "encrypted_video": encrypt(video, "k" * 32, AES_IV),
                "encrypted_image": encrypt(d0_photo, "k" * 32, AES_IV),
            },
            1200,
        ),
        (form(video, huge), 2003),
        (form(video, os.urandom(11 * 1024 * 1024)), 2004),
        (form(video, os.urandom(5000)), 2005),
        (form(video, d0_photo[:1500]), 2005),
        (form(os.urandom(30000), d0_photo), 2005),
        (form(video, blank), 4000),
        (form(repeated_frame_clip(np.full((240, 240, 3), 90, np.uint8)), d0_photo), 4007),
    ]
    for fields, code in cases:
        r = await client.post(URL, form=fields, headers=AUTH)
        body = await r.get_json()
        assert r.status_code in (400, 413) and body["code"] == code, (code, body)
        assert body["request_id"] == r.headers["X-Request-Id"]
        assert set(body) == {"code", "message", "request_id"} and body["message"] == DOCUMENTED[code], body
        assert r.headers.get("X-Livecheck-Detail"), "the detail goes to a header, not into message"
    r = await client.post(URL, form=form(video, d0_photo))
    assert r.status_code == 401 and (await r.get_json())["code"] == 1200


def _upright_face(frame: np.ndarray, turn: int) -> np.ndarray:
    from scoring.orientation import rotate

    return rotate(frame, turn)


@pytest.fixture(scope="module")
def d0_frame(media_bytes) -> np.ndarray:
    frames, _ = decode_frames(media_bytes("videos/d0.mp4"), 0.0, 0.1)
    return frames[0]


@pytest.mark.parametrize("turn", [90, 180, 270])
async def test_auto_rotate_turned_photo(client, media_bytes, d0_frame, turn):
    """A same-person photo stored turned: the landmarker still fits a mesh to it, upside down a wrong one whose
    embedding does not match; auto_rotate finds the upright turn and the match is high."""
    video = media_bytes("videos/d0.mp4")
    turned = jpeg(_upright_face(d0_frame, turn))
    r = await client.post(URL, form=form(video, turned, auto_rotate="true"), headers=AUTH)
    body = await r.get_json()
    assert r.status_code == 200 and body["passed"] is True and body["verification_score"] > 0.9, body
    if turn == 180:
        r = await client.post(URL, form=form(video, turned), headers=AUTH)
        body = await r.get_json()
        assert body["passed"] is True and body["verification_score"] < 0.7, body


@pytest.mark.parametrize("tag, stored_turn", [(6, 270), (3, 180)])
async def test_exif_orientation_honoured(client, media_bytes, d0_frame, tag, stored_turn):
    """Pixels stored turned, with the EXIF orientation that says how to view them (6: turn 90 clockwise, 3: 180)."""
    import io

    from PIL import Image

    from scoring.media import decode_image
    from scoring.settings import MediaLimits

    upright = d0_frame[:, 56:456]  # 400 wide x 512 high: a turn shows in the decoded shape
    stored = Image.fromarray(_upright_face(upright, stored_turn))
    exif = Image.Exif()
    exif[0x0112] = tag
    tagged, untagged = io.BytesIO(), io.BytesIO()
    stored.save(tagged, "JPEG", quality=92, exif=exif.tobytes())
    stored.save(untagged, "JPEG", quality=92)
    assert decode_image(tagged.getvalue(), MediaLimits()).shape == upright.shape
    video = media_bytes("videos/d0.mp4")
    for flags in ({}, {"auto_rotate": "true"}):
        body = await (await client.post(URL, form=form(video, tagged.getvalue(), **flags), headers=AUTH)).get_json()
        assert body["passed"] is True and body["verification_score"] > 0.9, (flags, body)
    if tag == 3:  # the same pixels without the tag do not match: the tag is what turned them
        body = await (await client.post(URL, form=form(video, untagged.getvalue()), headers=AUTH)).get_json()
        assert body["verification_score"] < 0.7, body


async def test_auto_rotate_without_face_is_still_4000(client, media_bytes):
    blank = jpeg(np.full((480, 640, 3), 200, np.uint8))
    r = await client.post(URL, form=form(media_bytes("videos/d0.mp4"), blank, auto_rotate="true"), headers=AUTH)
    assert r.status_code == 400 and (await r.get_json())["code"] == 4000


async def test_check_quality(client, media_bytes, d0_frame, d0_photo):
    """Eyes/nose/mouth outside the photo -> 4004; a face narrower than 80 px -> 2003; a good photo passes.
    Without check_quality the same photos are compared as they are."""
    import cv2

    video = media_bytes("videos/d0.mp4")
    mouth_cut = jpeg(d0_frame[:350])  # d0's face spans rows ~164..437: the mouth falls below row 350
    small = jpeg(cv2.resize(read_rgb(media_bytes("identity/obama.jpg")), (240, 300), interpolation=cv2.INTER_AREA))
    blank = jpeg(np.full((480, 480, 3), 200, np.uint8))
    for image, code in ((mouth_cut, 4004), (small, 2003), (blank, 4000)):
        r = await client.post(URL, form=form(video, image, check_quality="true"), headers=AUTH)
        body = await r.get_json()
        assert r.status_code == 400 and body["code"] == code, (code, body)
    r = await client.post(URL, form=form(video, d0_photo, check_quality="true"), headers=AUTH)
    body = await r.get_json()
    assert r.status_code == 200 and body["passed"] is True and body["verification_score"] > 0.7
    # the face found by the quality check is reused for the match: same score as finding it again
    plain = await (await client.post(URL, form=form(video, d0_photo), headers=AUTH)).get_json()
    assert plain["verification_score"] == body["verification_score"]
    for image in (mouth_cut, small):
        r = await client.post(URL, form=form(video, image), headers=AUTH)
        assert r.status_code == 200 and (await r.get_json())["code"] == 1000


@pytest.mark.unit
@pytest.mark.parametrize("true_turn", [0, 90, 180, 270])
def test_upright_turn_from_roll_readings(true_turn):
    """scoring.orientation.upright_turn on the landmarker's measured behaviour: at a net turn of 0 roll reads ~0,
    90 -> ~-90, 270 -> ~+90, and 180 (upside down) a wrong upright mesh, roll ~0. Also: no face at all -> None;
    no face until the photo is turned (the first found turn is then refined by its roll)."""
    from scoring.orientation import upright_turn

    readings = {0: 1.0, 90: -89.0, 180: -2.0, 270: 91.0}
    calls: list[int] = []

    def roll_at(turn: int) -> float | None:
        calls.append(turn)
        return readings[(turn - true_turn) % 360]

    assert upright_turn(roll_at) == true_turn
    assert len(calls) <= 2
    assert upright_turn(lambda turn: None) is None
    hidden = {0: None, 90: None, 180: 91.0, 270: -1.0}  # upright at 270; only seen from 180 on
    assert upright_turn(lambda turn: hidden[turn % 360]) == 270


async def test_wrong_method_and_unknown_path_answer_in_the_documents_shape(client):
    """404 and 405 are the document's {code, message, request_id} too (the document lists 404 NOT_FOUND)."""
    for method, path, status in (
        ("GET", URL, 405),
        ("PUT", URL, 405),
        ("DELETE", URL, 405),
        ("POST", "/identity/silent_image_verification/stateful", 404),
        ("GET", "/identity/anything/else", 404),
    ):
        r = await client.open(path, method, headers=AUTH)
        body = await r.get_json()
        assert r.status_code == status, (method, path)
        assert body == {"code": 1200, "message": "invalid argument", "request_id": r.headers["X-Request-Id"]}
        assert r.headers.get("X-Livecheck-Detail")
    assert (await client.open(URL, "GET")).headers["Allow"] == "POST"
