"""Helpers for the HTTP API tests: an app on the shared engine, and a test client that checks every response
against /openapi.json (the schema check runs on every response the API tests see)."""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from typing import Any

import jsonschema

from tests.support.session_support import ShiftedClock
from webapp.app import create_app
from webapp.config import ServiceConfig, load_config
from webapp.openapi import document

KEY = "test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A /metrics exposition parsed (prometheus_client's parser): (sample name, its labels) -> value, so that a
    test names a series whatever the label order or number format."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    """A key of `metric_samples`."""
    return name, frozenset(labels.items())


def temp_store_url() -> str:
    """A fresh SQLite store per app: sessions and rate counters of one test never leak into another."""
    return f"sqlite:///{tempfile.mkdtemp(prefix='livecheck-store-')}/livecheck.db"


def make_config(**server: Any) -> ServiceConfig:
    config = load_config(None, {}, api_keys=KEY, store={"url": temp_store_url()})
    return replace(config, server=replace(config.server, **server)) if server else config


def make_app(engine, **server: Any):  # type: ignore[no-untyped-def]
    return create_app(make_config(**server), engine=engine)


def _template(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


class CheckedClient:
    """Wraps Quart's test client; every response must be documented (path, method, status) and match its schema."""

    clock: ShiftedClock  # the server's clock, set (and moved) by the fixtures of the session tests

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.client = app.test_client()
        self.spec = document()
        self.checked = 0

    async def open(self, path: str, method: str = "GET", **kwargs: Any):  # type: ignore[no-untyped-def]
        response = await self.client.open(path, method=method, **kwargs)
        await self.check(path.split("?")[0], method, response)
        return response

    async def get(self, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return await self.open(path, "GET", **kwargs)

    async def post(self, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return await self.open(path, "POST", **kwargs)

    async def check(self, path: str, method: str, response) -> None:  # type: ignore[no-untyped-def]
        assert response.status_code != 500, await response.get_data(as_text=True)
        assert response.headers.get("X-Request-Id"), "every response carries X-Request-Id"
        adapter = self.app.url_map.bind("localhost")
        rule, _ = adapter.match(path, method=method, return_rule=True)
        operation = self.spec["paths"][_template(rule.rule)][method.lower()]
        documented = operation["responses"]
        assert str(response.status_code) in documented, f"{method} {path} -> undocumented {response.status_code}"
        content = documented[str(response.status_code)].get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            jsonschema.validate(await response.get_json(), schema)
        self.checked += 1
