"""`[huawei] auth = "aksk"`: requests signed the way Huawei's API Gateway SDKs sign them are accepted; a wrong
secret, a stale X-Sdk-Date, a tampered body, an unsigned payload and an unknown access key are FRS.0002 (403).

The signer below is written from the SDK's documented algorithm (APIG signer, SDK-HMAC-SHA256), independently of
webapp/huawei_auth.py, so the two agree only if the server verifies what the SDK sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import pytest

from tests.support.api_support import CheckedClient, make_config
from tests.support.mediagen import cut_clip
from webapp.app import create_app

AK, SK = "HPUAEXAMPLEACCESSKEY", "example-secret-key-0123456789abcdefghijk"
PATH = "/v2/0b9e2a3d/live-detect"
QUERY = "b=2&a=x%20y&a=1"  # unsorted keys, a repeated key, an escaped space: the canonical query sorts them


def sdk_sign(
    method: str, url_path: str, query: str, headers: dict[str, str], body: bytes, ak: str, sk: str, when: datetime
) -> dict[str, str]:
    """What the APIG SDK's Signer.Sign does to a request: adds X-Sdk-Date, signs every header it holds (host
    included), and sets Authorization."""
    headers = {**headers, "X-Sdk-Date": when.strftime("%Y%m%dT%H%M%SZ")}
    signed = sorted(k.lower() for k in headers)
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    uri = "/".join(quote(part, safe="~") for part in unquote(url_path).split("/"))
    uri = uri if uri.endswith("/") else uri + "/"
    pairs: dict[str, list[str]] = {}
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        pairs.setdefault(unquote(key), []).append(unquote(value))
    canonical_query = "&".join(
        f"{quote(k, safe='~')}={quote(v, safe='~')}" for k in sorted(pairs) for v in sorted(pairs[k])
    )
    canonical_headers = "".join(f"{k}:{lower[k]}\n" for k in signed)
    canonical = "\n".join(
        [method, uri, canonical_query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
    )
    to_sign = "\n".join(["SDK-HMAC-SHA256", headers["X-Sdk-Date"], hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    return headers


@pytest.fixture(scope="module")
def aksk_client(engine):  # type: ignore[no-untyped-def]
    config = make_config()
    huawei = replace(config.huawei, auth="aksk", access_keys=(f"{AK}:{SK}", "OTHERKEY:other-secret"))
    return CheckedClient(create_app(replace(config, huawei=huawei), engine=engine))


def now() -> datetime:
    return datetime.now(UTC)


async def send(client: CheckedClient, body: bytes, headers: dict[str, str]) -> Any:
    return await client.post(f"{PATH}?{QUERY}", data=body, headers=headers)


async def reply(response: Any) -> tuple[int, str]:
    found = await response.get_json()
    return response.status_code, found.get("error_code", "")


def json_request(video: bytes, actions: str = "4") -> bytes:
    return json.dumps({"video_base64": base64.b64encode(video).decode(), "actions": actions}).encode()


BASE = {"Host": "localhost", "Content-Type": "application/json"}


async def test_a_request_signed_like_the_sdk_is_accepted(aksk_client, media_bytes):
    body = json_request(cut_clip(media_bytes("videos/d18.mp4"), 0.0, 2.4, size=(320, 320)))
    headers = sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now())
    r = await send(aksk_client, body, headers)
    assert r.status_code == 200, await r.get_data(as_text=True)
    result = (await r.get_json())["video-result"]
    assert [a["action"] for a in result["actions"]] == [4]


async def test_multipart_signed_over_its_raw_bytes(aksk_client):
    boundary = "sdkboundary1234"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="actions"\r\n\r\n4\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="video_file"; filename="v.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + b"not a video"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Host": "localhost", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = await send(aksk_client, body, sdk_sign("POST", PATH, QUERY, headers, body, AK, SK, now()))
    assert await reply(r) == (400, "FRS.0701")  # past the signature: the file is read and is not a video


async def test_wrong_secret_stale_date_tampered_body_and_unknown_key_are_refused(aksk_client):
    body = json.dumps({"actions": "4"}).encode()
    cases = {
        "wrong secret": (sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK + "x", now()), body),
        "stale date": (sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now() - timedelta(hours=1)), body),
        "future date": (sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now() + timedelta(hours=1)), body),
        "tampered body": (sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now()), body.replace(b"4", b"3")),
        "unknown key": (sdk_sign("POST", PATH, QUERY, BASE, body, "NOSUCHKEY", SK, now()), body),
        "other key's secret": (sdk_sign("POST", PATH, QUERY, BASE, body, "OTHERKEY", SK, now()), body),
        "another path": (sdk_sign("POST", "/v2/other/live-detect", QUERY, BASE, body, AK, SK, now()), body),
        "another query": (sdk_sign("POST", PATH, "a=1", BASE, body, AK, SK, now()), body),
        "unsigned payload": (
            sdk_sign("POST", PATH, QUERY, {**BASE, "x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}, b"", AK, SK, now()),
            body,
        ),
    }
    for name, (headers, sent) in cases.items():
        r = await send(aksk_client, sent, headers)
        assert await reply(r) == (403, "FRS.0002"), name
        assert (await r.get_json())["error_msg"] == "The authentication token is abnormal.", name
    good = sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now())
    r = await send(aksk_client, body, good)
    assert await reply(r) == (400, "FRS.0011"), "the same request correctly signed gets past auth (no video)"
    unsigned_host = {k: v for k, v in good.items()}
    unsigned_host["Authorization"] = good["Authorization"].replace("host;", "")
    r = await send(aksk_client, body, unsigned_host)
    assert await reply(r) == (403, "FRS.0002"), "host must be among the signed headers"


async def test_missing_signature_headers_and_tokens_in_aksk_mode(aksk_client):
    body = json.dumps({"actions": "4"}).encode()
    r = await send(aksk_client, body, BASE)
    assert await reply(r) == (400, "FRS.0010")
    assert (await r.get_json())["error_msg"] == "Lack Header or Header Authorization is empty."
    signed = sdk_sign("POST", PATH, QUERY, BASE, body, AK, SK, now())
    r = await send(aksk_client, body, {k: v for k, v in signed.items() if k != "X-Sdk-Date"})
    assert (await r.get_json())["error_msg"] == "Lack Header or Header X-Sdk-Date is empty."
    r = await send(aksk_client, body, {**BASE, "Authorization": "Bearer test-key-1", "X-Sdk-Date": "20260101T000000Z"})
    assert await reply(r) == (403, "FRS.0002"), "an API key is not an AK/SK signature"


async def test_an_unknown_key_is_refused_before_the_body_is_read(aksk_client):
    """20 MB declared with a bad access key: 403 for the key, not 413 for the size (the body is never read)."""
    body = b"x" * (20 * 1024 * 1024)
    headers = sdk_sign("POST", PATH, QUERY, BASE, b"", "NOSUCHKEY", SK, now())
    started = time.monotonic()
    r = await send(aksk_client, body, headers)
    assert await reply(r) == (403, "FRS.0002")
    assert time.monotonic() - started < 30


@pytest.mark.unit
def test_huawei_auth_config_is_checked_at_start() -> None:
    from webapp.config import ConfigError, load_config

    assert load_config(None, {}).huawei.auth == "token"
    good = load_config(None, {"LIVECHECK_HUAWEI__AUTH": "aksk", "LIVECHECK_HUAWEI__ACCESS_KEYS": "AK1:SK1,AK2:SK2"})
    assert good.huawei.access_keys == ("AK1:SK1", "AK2:SK2")
    for env, problem in (
        ({"LIVECHECK_HUAWEI__AUTH": "iam"}, "auth: expected one of token, aksk, none"),
        ({"LIVECHECK_HUAWEI__AUTH": "aksk"}, "needs at least one"),
        ({"LIVECHECK_HUAWEI__ACCESS_KEYS": "no-colon"}, "entry 1 is not ACCESS_KEY:SECRET_KEY"),
        ({"LIVECHECK_HUAWEI__MAX_CLOCK_SKEW_S": "0"}, "max-clock-skew-s"),
    ):
        with pytest.raises(ConfigError, match=problem):
            load_config(None, env)


@pytest.mark.unit
def test_canonical_parts_follow_the_sdk() -> None:
    from webapp.huawei_auth import canonical_query, canonical_uri

    assert canonical_uri("/v2/p/live-detect") == "/v2/p/live-detect/"
    assert canonical_uri("/v2/a%20b/live-detect/") == "/v2/a%20b/live-detect/"
    assert canonical_query(b"b=2&a=x%20y&a=1&c") == "a=1&a=x%20y&b=2&c="
