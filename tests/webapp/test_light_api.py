"""The session option `light` over HTTP: validated, defaulted from `[realtime] light`, stored with the session and
told to the widget page (`data-light`). Responses are checked against /openapi.json (api_support.CheckedClient)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from quart import Quart

from tests.support.api_support import CheckedClient
from webapp.app import create_app
from webapp.config import load_config
from webapp.sessions import registry

KEY = "light-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


async def make_client(engine, default: bool) -> tuple[CheckedClient, Quart]:
    config = load_config(None, {}, api_keys=KEY)
    config = replace(config, realtime=replace(config.realtime, ice_host_addresses=("127.0.0.1",), light=default))
    app = create_app(config, engine=engine)
    return CheckedClient(app), app


@pytest.mark.parametrize("default", [False, True])
async def test_the_light_option_is_validated_defaulted_and_told_to_the_widget(engine, default):
    checked, app = await make_client(engine, default)
    async with app.test_app() as test_app:
        checked.client = test_app.test_client()
        for bad in ("yes", "true", 1, [True]):
            refused = await checked.post("/v1/sessions", json={"light": bad}, headers=AUTH)
            assert refused.status_code == 400, bad
            assert (await refused.get_json())["error"]["code"] == "invalid_session_options"
        for asked, expected in ((True, True), (False, False), (None, default)):
            body = {} if asked is None else {"light": asked}
            created = await checked.post("/v1/sessions", json=body, headers=AUTH)
            assert created.status_code == 201
            session_id = (await created.get_json())["session_id"]
            record = await registry(app).get(session_id)
            assert record.light is expected, (asked, default)
            page = await checked.client.get(f"/widget/{session_id}")
            html = (await page.get_data()).decode()
            assert f'data-light="{"on" if expected else "off"}"' in html
