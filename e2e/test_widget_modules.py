"""The widget as native ES modules in Chromium: every module is served as JavaScript, the page's strict CSP lets
them run (no violation, no error), every file in frontend/static/widget is reached from main.js, and a live check
driven through them ends on the result screen the server's word decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e.conftest import Server
from e2e.y4m import Y4mInfo

MODULES = Path(__file__).resolve().parents[1] / "frontend" / "static" / "widget"
JS_TYPES = ("text/javascript", "application/javascript")

WATCH = """(() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
})();"""


def test_modules_load_under_the_csp_and_a_check_runs_through_them(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any
) -> None:
    created = server.create_session(actions=["turn_left", "open_mouth"])
    page = launch(cameras["d12"])
    errors: list[str] = []
    modules: dict[str, tuple[int, str, str]] = {}
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)

    def seen(response: Any) -> None:
        if "/widget/static/widget/" in response.url:
            headers = response.headers
            modules[response.url.rsplit("/", 1)[1]] = (
                response.status,
                headers.get("content-type", ""),
                headers.get("x-content-type-options", ""),
            )

    page.on("response", seen)
    page.add_init_script(WATCH)
    page.goto(created["widget_url"])
    page.locator("#lc-camera").wait_for()

    assert set(modules) == {p.name for p in MODULES.glob("*.js")}, "every module is reached from main.js, none missing"
    for name, (status, kind, nosniff) in modules.items():
        assert status == 200 and kind.split(";")[0].strip() in JS_TYPES and nosniff == "nosniff", (name, status, kind)
    assert page.evaluate("document.querySelectorAll('script:not([type=module])').length") == 0

    page.locator("#lc-camera").click()
    page.locator("#lc-start:not([disabled])").click(timeout=20_000)
    page.wait_for_selector("#livecheck[data-screen='check']")
    page.wait_for_selector("#livecheck[data-phase]", timeout=20_000)  # a `state` message came through protocol.js
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Cancel the check").click()
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=30_000)
    assert page.locator("#livecheck").get_attribute("data-result") == "cancelled"
    body = server.wait_decided(created["session_id"])
    assert body["status"] == "FAILED" and "cancelled" in body["result"]["reasons"], body

    assert page.evaluate("window.__violations") == []
    assert errors == []
