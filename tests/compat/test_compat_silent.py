"""Silent image verification drop-in: the document's curl sample as curl sends it (no credentials, raw base64 in a
form body), the encryption clients in docs/api.md (Python, Java, Node.js) against the document's AESCipher key and
IV, and no frame-rate or resolution limit on the video (the document sets none)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from tests.support.api_support import AUTH, CheckedClient, make_config
from tests.support.mediagen import decode_frames, encode_video, jpeg
from tests.support.paths import ROOT
from webapp.api_silent import encrypt
from webapp.app import create_app
from webapp.config import KeylessSettings

URL = "/identity/silent_image_verification/stateless"
AES_KEY, AES_IV = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"  # the document's Java sample
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends


def keyless_app(engine, **server):  # type: ignore[no-untyped-def]
    config = make_config(**server)
    return create_app(replace(config, silent=KeylessSettings(require_key=False)), engine=engine)


def curl_body(**fields: str) -> str:
    """`curl -d a=x -d b=y`: joined with &, values NOT URL-encoded (a `+` in base64 stays a raw `+`)."""
    return "&".join(f"{k}={v}" for k, v in fields.items())


@pytest.fixture(scope="module")
def d0_photo(media_bytes) -> bytes:
    frames, _ = decode_frames(media_bytes("videos/d0.mp4"), 0.0, 0.1)
    return jpeg(frames[0])


def doc_example(language: str) -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    found = re.search(rf"<!-- example: silent-encrypt-{language} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"docs/api.md has no {language} encryption example"
    return found.group(1)


def run_example(language: str, tmp_path, data: bytes) -> str:
    source = {"python": "encrypt.py", "java": "AESCipher.java", "node": "encrypt.js"}[language]
    (tmp_path / source).write_text(doc_example(language))
    (tmp_path / "input.bin").write_bytes(data)
    command = {"python": [sys.executable], "java": ["java"], "node": ["node"]}[language]
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    done = subprocess.run(
        [*command, source, AES_KEY, AES_IV, "input.bin"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("language", ["python", "java", "node"])
def test_documented_encryption_clients_agree_with_the_server(language, tmp_path, d0_photo):
    """GCM with the document's fixed key and nonce is deterministic: each client's field must be the one the
    server's own scheme (webapp.api_silent.encrypt, whose output it decrypts) produces for the same bytes."""
    assert run_example(language, tmp_path, d0_photo) == encrypt(d0_photo, AES_KEY, AES_IV)


async def test_curl_sample_with_encrypted_fields_and_no_credentials(engine, media_bytes, d0_photo, tmp_path):
    """The document's curl sample with fields from the documented Python client, sent raw (`+` unescaped)."""
    client = CheckedClient(keyless_app(engine, silent_aes_key=AES_KEY, silent_aes_iv=AES_IV))
    video = run_example("python", tmp_path, media_bytes("videos/d0.mp4"))
    image = encrypt(d0_photo, AES_KEY, AES_IV)
    assert "+" in video and "+" in image  # otherwise this would not test the form decoding
    r = await client.post(
        URL, data=curl_body(encrypted_video=video, encrypted_image=image, auto_rotate="true"), headers=FORM
    )
    assert r.status_code == 200, await r.get_data(as_text=True)
    body = await r.get_json()
    assert body["code"] == 1000 and body["passed"] is True and body["verification_score"] > 0.7


async def test_curl_sample_plain_base64_and_keys_required_by_default(engine, media_bytes, d0_photo):
    video, image = (base64.b64encode(d).decode() for d in (media_bytes("videos/d0.mp4"), d0_photo))
    assert "+" in video
    body = curl_body(encrypted_video=video, encrypted_image=image, auto_rotate="true")
    r = await CheckedClient(keyless_app(engine)).post(URL, data=body, headers=FORM)
    assert r.status_code == 200 and (await r.get_json())["code"] == 1000
    r = await CheckedClient(create_app(make_config(), engine=engine)).post(URL, data=body, headers=FORM)
    assert r.status_code == 401 and (await r.get_json())["code"] == 1200


async def test_portrait_and_60_fps_videos_are_analyzed(engine, media_bytes):
    """The document sets no video resolution or frame-rate limit: a portrait phone clip is not 2003 (a photo code)
    and a 60 fps clip is not 4007."""
    client = CheckedClient(create_app(make_config(), engine=engine))
    yongen = media_bytes("videos/mt_yongen.mp4")  # 704x1216, as recorded
    frames, _ = decode_frames(yongen, 0.0, 0.1)
    fields = {
        "encrypted_video": base64.b64encode(yongen).decode(),
        "encrypted_image": base64.b64encode(jpeg(frames[0])).decode(),
    }
    r = await client.post(URL, form=fields, headers=AUTH)
    assert r.status_code == 200 and (await r.get_json())["code"] == 1000, await r.get_data(as_text=True)
    d18, _ = decode_frames(media_bytes("videos/d18.mp4"), 0.0, 3.0)
    fast = encode_video([f for f in d18 for _ in range(2)], fps=60.0)
    fields = {
        "encrypted_video": base64.b64encode(fast).decode(),
        "encrypted_image": base64.b64encode(jpeg(d18[0])).decode(),
    }
    r = await client.post(URL, form=fields, headers=AUTH)
    assert r.status_code == 200 and (await r.get_json())["code"] == 1000, await r.get_data(as_text=True)


async def test_video_past_the_decoding_bound_is_4007_not_the_photo_code(engine, d0_photo):
    client = CheckedClient(create_app(make_config(), engine=engine))
    huge = encode_video([np.zeros((2176, 3904, 3), np.uint8)] * 2, fps=25.0)
    fields = {
        "encrypted_video": base64.b64encode(huge).decode(),
        "encrypted_image": base64.b64encode(d0_photo).decode(),
    }
    r = await client.post(URL, form=fields, headers=AUTH)
    assert r.status_code == 400 and (await r.get_json())["code"] == 4007
