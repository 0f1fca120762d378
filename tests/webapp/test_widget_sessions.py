"""What creating a widget session says about embedding (issue 23): no allowed origins is warned about in the
answer (or refused with [server] require-allowed-origins), and a return_url is only accepted on one of the
session's allowed origins and travels in the widget URL's fragment (never to a server log)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.api_support import CheckedClient
from webapp.app import create_app
from webapp.config import load_config
from webapp.sessions import NO_ALLOWED_ORIGINS

KEY = "widget-sessions-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(params=[False, True], ids=["warn", "refuse"])
async def require(request):
    return request.param


@pytest.fixture
async def client(engine, require):
    config = load_config(None, {}, api_keys=KEY)
    config = replace(config, server=replace(config.server, require_allowed_origins=require))
    app = create_app(config, engine=engine)
    async with app.test_app() as test_app:
        checked = CheckedClient(app)
        checked.client = test_app.test_client()
        yield checked


async def test_no_allowed_origins_is_warned_about_or_refused(client, require):
    response = await client.post("/v1/sessions", json={"action_count": 1}, headers=AUTH)
    body = await response.get_json()
    if require:
        assert response.status_code == 400, body
        assert body["error"]["code"] == "invalid_session_options" and "allowed_origins" in body["error"]["message"]
    else:
        assert response.status_code == 201, body
        assert [w["code"] for w in body["warnings"]] == [NO_ALLOWED_ORIGINS]
        assert "embed" in body["warnings"][0]["message"]
    listed = await client.post("/v1/sessions", json={"allowed_origins": ["https://shop.example"]}, headers=AUTH)
    assert listed.status_code == 201 and "warnings" not in await listed.get_json()


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/phish",
        "https://shop.example.evil.example/",
        "https://user:pw@shop.example/",
        "javascript:alert(1)",
        "/relative",
        "https://shop.example/" + "x" * 2100,
        42,
    ],
)
async def test_a_return_url_off_the_allowed_origins_is_refused(client, return_url):
    response = await client.post(
        "/v1/sessions", json={"allowed_origins": ["https://shop.example"], "return_url": return_url}, headers=AUTH
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == "invalid_session_options"


async def test_a_return_url_travels_in_the_fragment(client):
    done = "https://shop.example/done?order=7&x=a#b"
    response = await client.post(
        "/v1/sessions", json={"allowed_origins": ["https://shop.example"], "return_url": done}, headers=AUTH
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    url = urlsplit(body["widget_url"])
    assert url.query == ""
    fragment = parse_qs(url.fragment)
    assert fragment["token"] == [body["client_token"]] and fragment["return"] == [done]
