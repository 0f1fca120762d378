"""POST /v1/sessions/{id}/fallback/cancel: the recording fallback's Cancel (issue 23). The live path cancels over
its data channel; a recording has none, so without this route a cancelled recording stayed IN_PROGRESS until its
upload deadline. Real app, real engine, through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api_support import CheckedClient
from webapp.app import create_app
from webapp.config import load_config

KEY = "cancel-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def client(engine):  # type: ignore[no-untyped-def]
    app = create_app(load_config(None, {}, api_keys=KEY), engine=engine)
    async with app.test_app() as test_app:
        checked = CheckedClient(app)
        checked.client = test_app.test_client()
        yield checked


async def create(client: CheckedClient, **options: Any) -> dict[str, Any]:
    response = await client.post("/v1/sessions", json={"actions": ["turn_left"], **options}, headers=AUTH)
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()  # type: ignore[no-any-return]


async def call(client: CheckedClient, body: dict[str, Any], method: str, path: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token or body['client_token']}"}
    return await client.open(f"/v1/sessions/{body['session_id']}/{path}", method=method, headers=headers)


async def status_of(client: CheckedClient, body: dict[str, Any]) -> dict[str, Any]:
    return await (await client.get(f"/v1/sessions/{body['session_id']}", headers=AUTH)).get_json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("started", [True, False], ids=["while-recording", "before-recording"])
async def test_cancel_ends_the_session_failed_cancelled_at_once(client: CheckedClient, started: bool) -> None:
    body = await create(client, recording_fallback=True)
    if started:
        assert (await call(client, body, "POST", "fallback")).status_code == 200
    cancelled = await call(client, body, "POST", "fallback/cancel")
    assert cancelled.status_code == 200, await cancelled.get_json()
    assert (await cancelled.get_json())["status"] == "FAILED"
    view = await status_of(client, body)
    assert view["status"] == "FAILED" and view["result"]["reasons"] == ["cancelled"], view
    assert view["result"]["mode"] == "recording"
    # nothing can follow: no prompt, no upload, no second cancel, no live offer
    for method, path in (("POST", "fallback/next"), ("POST", "fallback/cancel"), ("POST", "recording")):
        refused = await call(client, body, method, path)
        assert refused.status_code == 409, (path, await refused.get_json())


async def test_cancel_needs_the_client_token_and_a_fallback_session(client: CheckedClient) -> None:
    body = await create(client, recording_fallback=True)
    wrong = await call(client, body, "POST", "fallback/cancel", token="not-the-token")
    assert wrong.status_code == 403 and (await wrong.get_json())["error"]["code"] == "invalid_token"
    bare = await client.post(f"/v1/sessions/{body['session_id']}/fallback/cancel")
    assert bare.status_code == 403
    live_only = await create(client)
    refused = await call(client, live_only, "POST", "fallback/cancel")
    assert refused.status_code == 403 and (await refused.get_json())["error"]["code"] == "fallback_not_allowed"
    assert (await status_of(client, body))["status"] == "CREATED"
    assert (await status_of(client, live_only))["status"] == "CREATED"
