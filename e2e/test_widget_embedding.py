"""The widget embedded the way an integrator embeds it: a host page on another origin (another port) with embed.js,
in Chromium at phone sizes, portrait and landscape, with a fake camera playing d12. Asserted on element boxes, not
screenshots: the oval, the prompt, the countdown and Cancel stay inside the host's viewport for the whole check.
Also: each end screen's way forward, cancel -> `cancelled`, a refused frame -> mount() rejects, the languages,
overrides and dark mode, and axe-core (0 violations) on every screen visited."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from e2e.conftest import Axe, Server
from e2e.y4m import Y4mInfo

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "frontend" / "i18n"
D12_ACTIONS = ["turn_left", "turn_right", "open_mouth"]  # what d12.mp4 does, in order (MEDIA.md)
SLACK = 0.5  # px: sub-pixel rounding of boxes


def host_url(host_origin: str, server: Server, widget_url: str, **options: str) -> str:
    return f"{host_origin}/host.html?" + urlencode({"server": server.base, "widget": widget_url, **options})


def poll(page: Any, expression: str, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def widget_frame(page: Any) -> Any:
    handle = page.locator("#slot iframe").element_handle()
    frame = handle.content_frame()
    assert frame is not None
    return frame


def inside(box: dict[str, float] | None, width: int, height: int) -> bool:
    return (
        box is not None
        and box["x"] >= -SLACK
        and box["y"] >= -SLACK
        and box["x"] + box["width"] <= width + SLACK
        and box["y"] + box["height"] <= height + SLACK
    )


CONTROLS = {"oval": "#lc-oval", "prompt": "#lc-prompt", "countdown": "#lc-countdown", "cancel": "#lc-cancel"}
# One call per sample (a busy machine must not slow the check down): each shown control's box in the frame.
BOXES = """(controls) => {
  const root = document.getElementById('livecheck');
  const out = {screen: root.dataset.screen, phase: root.dataset.phase || '', boxes: {}};
  for (const [name, selector] of Object.entries(controls)) {
    const el = document.querySelector(selector);
    if (!el || el.closest('[hidden]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) out.boxes[name] = {x: r.x, y: r.y, width: r.width, height: r.height};
  }
  return out;
}"""
FRAME_AT = "(() => { const r = document.querySelector('#slot iframe').getBoundingClientRect(); return [r.x, r.y]; })()"


def sample_controls(page: Any, frame: Any, width: int, height: int) -> dict[str, Any] | None:
    """The boxes of the check's controls that are showing, in the host page's viewport (the iframe's offset plus
    the box in the frame: the iframe has no border and does not scroll); None once the check screen is gone."""
    found = frame.evaluate(BOXES, CONTROLS)
    if found["screen"] != "check":
        return None
    x, y = page.evaluate(FRAME_AT)
    seen: dict[str, Any] = {"phase": found["phase"]}
    for name, box in found["boxes"].items():
        seen[name] = {**box, "x": box["x"] + x, "y": box["y"] + y}
        assert inside(seen[name], width, height), (name, seen[name], width, height, seen["phase"])
    return seen


@pytest.mark.parametrize(
    "width, height",
    [(320, 568), (568, 320), (360, 740)],
    ids=["320x568-portrait", "568x320-landscape", "360x740-portrait"],
)
def test_whole_check_on_a_phone_keeps_every_control_on_screen(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, host_origin: str, axe: Axe, width: int, height: int
) -> None:
    created = server.create_session(actions=D12_ACTIONS, allowed_origins=[host_origin])
    page = launch(cameras["d12"], viewport={"width": width, "height": height})
    page.goto(host_url(host_origin, server, created["widget_url"]))
    poll(page, "window.mounted")
    frame = widget_frame(page)
    iframe_height = page.evaluate("document.querySelector('#slot iframe').getBoundingClientRect().height")
    content = frame.evaluate("Math.ceil(document.getElementById('livecheck').getBoundingClientRect().height)")
    assert abs(iframe_height - content) <= 1, "the iframe follows the widget's height"
    axe.check(frame, f"intro {width}x{height}")
    frame.locator("#lc-camera").click()
    frame.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    poll(frame, "document.getElementById('lc-video').readyState >= 2")
    # (axe on the start screen runs in the cancel test: here it would delay Start past d12's held lead-in)
    assert frame.evaluate("document.activeElement.id") == "lc-start"
    page.keyboard.press("Enter")  # the keyboard: Playwright does not scroll anything into view for us
    frame.wait_for_selector("#livecheck[data-screen='check']")
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while frame.evaluate("document.getElementById('livecheck').dataset.screen") == "check":
        assert time.monotonic() < deadline, "the check did not end"
        sample = sample_controls(page, frame, width, height)
        if sample is not None:
            samples.append(sample)
        time.sleep(0.4)
    phases = {s["phase"] for s in samples}
    with_countdown = [s for s in samples if "countdown" in s]
    assert {"positioning", "challenge"} <= phases, phases
    assert with_countdown, "sampled while a prompt's countdown showed"
    missing = [s for s in samples if not {"oval", "prompt", "cancel"} <= set(s)]
    assert not missing, missing
    oval = samples[-1]["oval"]
    print(
        f"{width}x{height}: {len(samples)} samples over {sorted(phases)}, {len(with_countdown)} with the countdown; "
        f"oval {oval['width']:.0f}x{oval['height']:.0f} at y={oval['y']:.0f}; "
        f"cancel bottom {max(s['cancel']['y'] + s['cancel']['height'] for s in samples):.0f} of {height}"
    )
    frame.wait_for_selector("#livecheck[data-screen='result']")
    body = server.wait_decided(created["session_id"])
    # The layout is what this test is about; whether d12 passes is test_widget.py's (a busy machine can fail the
    # actions). The page shows the server's word, and so does the host's event.
    shown = frame.locator("#livecheck").get_attribute("data-result")
    assert shown == ("passed" if body["status"] == "SUCCEEDED" else "failed"), (shown, body["result"]["reasons"])
    print(f"{width}x{height}: the server says {body['status']} {body['result']['reasons']}")
    assert inside(frame.locator("#lc-heading").bounding_box(), width, height)
    axe.check(frame, f"{shown} {width}x{height}")
    poll(page, "window.completed")
    assert page.evaluate("window.completed") == {
        "type": "completed",
        "sessionId": created["session_id"],
        "status": body["status"],
    }
    types = [e["type"] for e in page.evaluate("window.events")]
    assert types[0] == "ready" and "progress" in types and types[-1] == "completed", types
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling


def test_confirmed_cancel_says_you_cancelled_and_the_host_hears_cancelled_then_retry(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, host_origin: str, axe: Axe
) -> None:
    created = server.create_session(actions=D12_ACTIONS, allowed_origins=[host_origin])
    page = launch(cameras["d12"], viewport={"width": 360, "height": 740})
    page.goto(host_url(host_origin, server, created["widget_url"]))
    poll(page, "window.mounted")
    frame = widget_frame(page)
    frame.locator("#lc-camera").click()
    frame.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    axe.check(frame, "start")
    frame.locator("#lc-start").click()
    frame.wait_for_selector("#livecheck[data-screen='check']")
    axe.check(frame, "check (positioning)")
    step = frame.locator("#lc-step").inner_text()
    assert "left to get into position" in step, step  # the positioning time left is shown
    seconds = int(step.split()[0])
    assert 25 <= seconds <= 30, step
    page.keyboard.press("Escape")  # Esc asks first; it does not cancel at once
    frame.wait_for_selector("#livecheck[data-confirming]")
    assert frame.locator("#lc-next").inner_text().startswith("Cancel the check?")
    assert frame.evaluate("document.activeElement.id") == "lc-keep"
    axe.check(frame, "confirm cancel")
    frame.locator("#lc-keep").click()  # keep going: the check goes on
    assert frame.locator("#lc-cancel").is_visible()
    frame.locator("#lc-cancel").click()
    frame.locator("#lc-confirm-cancel").click()
    frame.wait_for_selector("#livecheck[data-result='cancelled']", timeout=20_000)
    assert frame.locator("#lc-heading").inner_text() == "You cancelled"
    axe.check(frame, "cancelled")
    poll(page, "window.completed")
    assert page.evaluate("window.completed") == {
        "type": "cancelled",
        "sessionId": created["session_id"],
        "status": "FAILED",
    }
    body = server.wait_decided(created["session_id"])
    assert body["status"] == "FAILED" and body["result"]["reasons"] == ["cancelled"], body
    frame.get_by_role("button", name="Start a new check").click()
    poll(page, "window.events.some((e) => e.type === 'retry')")
    types = [e["type"] for e in page.evaluate("window.events")]
    assert "completed" not in types and types[-2:] == ["cancelled", "retry"], types


IFRAME_BOX = """(() => { const f = document.querySelector('#slot iframe'); const r = f.getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height, position: getComputedStyle(f).position,
          overflow: document.body.style.overflow}; })()"""


def test_full_screen_on_a_phone_covers_the_screen_while_the_check_runs(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, host_origin: str, axe: Axe
) -> None:
    """fullScreen: 'small' at 360x740: from Start the iframe is the whole screen (the host's header is not over
    it, the page does not scroll under it) with every control on it; the end screen shows in the page again."""
    width, height = 360, 740
    created = server.create_session(actions=D12_ACTIONS, allowed_origins=[host_origin])
    page = launch(cameras["d12"], viewport={"width": width, "height": height})
    page.goto(host_url(host_origin, server, created["widget_url"], fullScreen="small"))
    poll(page, "window.mounted")
    frame = widget_frame(page)
    before = page.evaluate(IFRAME_BOX)
    assert before["position"] == "static" and before["y"] > 0, before  # in the page, under the host's header
    frame.locator("#lc-camera").click()
    frame.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    frame.locator("#lc-start").click()
    frame.wait_for_selector("#livecheck[data-screen='check']")
    poll(page, "getComputedStyle(document.querySelector('#slot iframe')).position === 'fixed'")
    covering = page.evaluate(IFRAME_BOX)
    assert covering["overflow"] == "hidden", covering
    assert (covering["x"], covering["y"], covering["width"], covering["height"]) == (0, 0, width, height), covering
    sample = sample_controls(page, frame, width, height)
    assert sample is not None and {"oval", "prompt", "cancel"} <= set(sample), sample
    axe.check(frame, "check (full screen)")
    frame.locator("#lc-cancel").click()
    frame.locator("#lc-confirm-cancel").click()
    frame.wait_for_selector("#livecheck[data-result='cancelled']", timeout=20_000)
    poll(page, "getComputedStyle(document.querySelector('#slot iframe')).position === 'static'")
    after = page.evaluate(IFRAME_BOX)
    content = frame.evaluate("Math.ceil(document.getElementById('livecheck').getBoundingClientRect().height)")
    assert after["overflow"] == "" and abs(after["height"] - content) <= 1, (after, content)
    assert server.wait_decided(created["session_id"])["result"]["reasons"] == ["cancelled"]


def test_a_refused_frame_rejects_mount_and_says_which_origin_to_allow(
    server: Server, launch: Any, host_origin: str
) -> None:
    created = server.create_session(actions=["turn_left"], allowed_origins=["https://integrator.example"])
    page = launch(None)
    page.goto(host_url(host_origin, server, created["widget_url"]))
    error = poll(page, "window.mountError", 30)
    assert error["name"] == "LiveCheckError" and error["code"] == "frame_refused", error
    assert host_origin in error["message"] and "allowed_origins" in error["message"]
    assert page.evaluate("window.received") == []
    assert server.session(created["session_id"])["status"] == "CREATED"


def test_an_expired_session_in_a_frame_rejects_mount_and_its_button_asks_the_host_for_a_new_one(
    server: Server, launch: Any, host_origin: str, axe: Axe
) -> None:
    created = server.create_session(actions=["turn_left"], allowed_origins=[host_origin], ttl=1)
    time.sleep(1.5)
    page = launch(None, viewport={"width": 360, "height": 740})
    page.goto(host_url(host_origin, server, created["widget_url"]))
    error = poll(page, "window.mountError")
    assert error["code"] == "session_expired", error
    frame = widget_frame(page)
    assert frame.locator("#livecheck").get_attribute("data-error") == "session_expired"
    axe.check(frame, "session expired (framed)")
    frame.get_by_role("button", name="Start a new check").click()
    poll(page, "window.events.some((e) => e.type === 'retry')")


def test_opened_on_its_own_an_end_screen_goes_back_to_the_return_url(
    server: Server, launch: Any, host_origin: str, axe: Axe
) -> None:
    done = f"{host_origin}/done.html?from=livecheck"
    created = server.create_session(
        actions=["turn_left"], allowed_origins=[host_origin], return_url=done, recording_fallback=True
    )
    assert "warnings" not in created
    claimed = httpx.post(  # the session is used (the fallback claims it): the page opens on an end screen
        f"{server.base}/v1/sessions/{created['session_id']}/fallback",
        headers={"Authorization": f"Bearer {created['client_token']}"},
    )
    assert claimed.status_code == 200
    page = launch(None)
    page.goto(created["widget_url"])
    page.wait_for_selector("#livecheck[data-error='session_used']")
    axe.check(page.main_frame, "session used (on its own)")
    page.get_by_role("button", name="Back to the site").click()
    page.wait_for_url(done)


def test_a_return_url_elsewhere_than_the_allowed_origins_is_refused(server: Server) -> None:
    response = httpx.post(
        f"{server.base}/v1/sessions",
        headers={"Authorization": f"Bearer {server.api_key}"},
        json={"allowed_origins": ["https://shop.example"], "return_url": "https://evil.example/phish"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_session_options"


def test_a_page_that_is_not_a_secure_context_says_open_it_over_https(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, axe: Axe
) -> None:
    created = server.create_session(actions=["turn_left"])
    port = server.base.rsplit(":", 1)[1]
    page = launch(cameras["d12"], extra_flags=("--host-resolver-rules=MAP livecheck.test 127.0.0.1",))
    page.goto(created["widget_url"].replace(server.base, f"http://livecheck.test:{port}"))
    page.wait_for_selector("#livecheck[data-error='insecure_context']")
    assert page.evaluate("window.isSecureContext") is False
    assert page.locator("#lc-heading").inner_text() == "Open this page over HTTPS"
    axe.check(page.main_frame, "insecure context")


LANGUAGES = sorted(p.stem for p in I18N.glob("*.json"))


def test_every_language_renders_with_its_direction_and_overrides_and_dark_mode_apply(
    server: Server, launch: Any, axe: Axe
) -> None:
    assert len(LANGUAGES) >= 9
    created = server.create_session(actions=["turn_left"])
    page = launch(None, viewport={"width": 360, "height": 740})
    for lang in LANGUAGES:
        strings = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
        page.goto(created["widget_url"].replace("#", f"?v={lang}#lang={lang}&"))
        page.locator("#lc-camera").wait_for()
        assert page.locator("#lc-heading").inner_text() == strings["intro.heading"], lang
        assert page.locator("#lc-camera").inner_text() == strings["intro.button"], lang
        assert page.locator("#lc-privacy").inner_text() == strings["intro.privacy"], lang
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
            lang,
            strings["dir"],
        ]
        assert page.get_attribute("#lc-bar", "aria-label") == strings["check.progress_label"]
        axe.check(page.main_frame, f"intro {lang}")
    assert page.evaluate("document.documentElement.dir") == "ltr"  # the last was not ar: directions reset
    overrides = json.dumps({"intro.heading": "Quick identity check", "no.such.key": "ignored"})
    page.goto(created["widget_url"].replace("#", "?v=o#theme=dark&") + "&" + urlencode({"strings": overrides}))
    page.locator("#lc-camera").wait_for()
    assert page.locator("#lc-heading").inner_text() == "Quick identity check"
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark == "rgb(18, 18, 18)", dark
    axe.check(page.main_frame, "intro dark")
    light = launch(None, color_scheme="dark")  # the browser prefers dark; no option: auto follows it
    light.goto(created["widget_url"])
    light.locator("#lc-camera").wait_for()
    assert light.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(18, 18, 18)"
    light.goto(created["widget_url"].replace("#", "?v=l#theme=light&"))
    light.locator("#lc-camera").wait_for()
    assert light.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"


def test_camera_error_screens_pass_axe(server: Server, cameras: dict[str, Y4mInfo], launch: Any, axe: Axe) -> None:
    created = server.create_session(actions=["turn_left"])
    denied = launch(cameras["d12"], grant=False)
    denied.goto(created["widget_url"])
    denied.locator("#lc-camera").click()
    denied.wait_for_selector("#livecheck[data-error='permission_denied']")
    axe.check(denied.main_frame, "permission denied")
    none = launch(None, fake_device=False)
    none.goto(created["widget_url"])
    none.locator("#lc-camera").click()
    none.wait_for_selector("#livecheck[data-error='no_camera']")
    axe.check(none.main_frame, "no camera")
    blocked = launch(cameras["d12"], loopback=False)
    blocked.goto(created["widget_url"])
    blocked.locator("#lc-camera").click()
    blocked.wait_for_selector("#livecheck[data-error='webrtc_failed']", timeout=30_000)
    axe.check(blocked.main_frame, "webrtc failed")


DOCS = ROOT / "docs" / "embedding.md"
PACKAGE = ROOT / "clients" / "js" / "src"
ELEMENT_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>element</title></head><body>
<script type="module">
  import '/pkg/element.js';
  window.events = [];
  const el = document.createElement('livecheck-widget');
  for (const type of ['ready', 'progress', 'completed', 'cancelled', 'error', 'retry']) {
    el.addEventListener('livecheck-' + type, (e) => window.events.push({type, detail: e.detail}));
  }
  el.setAttribute('language', 'de');
  el.setAttribute('widget-url', new URLSearchParams(location.search).get('widget'));
  document.body.appendChild(el);
</script></body></html>"""


def documented_page() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```html\n") + len("```html\n")
    return text[start : text.index("```", start)]


@pytest.fixture
def doc_host(server: Server) -> Any:
    """Another origin serving docs/embedding.md's page as written (its livecheck URL replaced) and the backend its
    comments describe: POST /livecheck/session creates a session for this origin, GET /livecheck/result/ID reads it."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        origin = ""

        def reply(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/livecheck/result/"):
                body = server.wait_decided(self.path.rsplit("/", 1)[1], 30)
                self.reply(200, json.dumps({"status": body["status"]}).encode(), "application/json")
            elif self.path.startswith("/pkg/"):  # the npm package's modules, as a page would load them
                name = self.path.split("?")[0].rsplit("/", 1)[1]
                self.reply(200, (PACKAGE / name).read_bytes(), "text/javascript; charset=utf-8")
            elif self.path.startswith("/element.html"):
                self.reply(200, ELEMENT_PAGE.encode(), "text/html; charset=utf-8")
            else:
                page = documented_page().replace("https://livecheck.example", server.base)
                self.reply(200, page.encode(), "text/html; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802
            created = server.create_session(actions=D12_ACTIONS, allowed_origins=[self.origin])
            self.reply(200, json.dumps(created).encode(), "application/json")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.origin = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Handler.origin
    httpd.shutdown()


def test_the_documented_page_works(server: Server, cameras: dict[str, Y4mInfo], launch: Any, doc_host: str) -> None:
    page = launch(cameras["d12"], viewport={"width": 360, "height": 740})
    page.goto(f"{doc_host}/verify.html")
    page.locator("#check iframe").wait_for()
    frame = page.frame_locator("#check iframe")
    frame.locator("#lc-camera").click()
    frame.locator("#lc-start:not([disabled])").click(timeout=20_000)
    frame.locator("#lc-cancel").click(timeout=20_000)
    frame.locator("#lc-confirm-cancel").click()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Result:')", timeout=40_000)
    assert page.locator("#status").inner_text() == "Result: FAILED"
    frame.get_by_role("button", name="Start a new check").click()  # onRetry: the page mounts a new session
    page.wait_for_function("document.getElementById('status').textContent === ''", timeout=20_000)
    frame.locator("#lc-camera").wait_for()
    assert page.locator("#check iframe").count() == 1


def test_the_custom_element_mounts_hears_and_reports_a_refused_frame(
    server: Server, launch: Any, doc_host: str
) -> None:
    page = launch(None)
    allowed = server.create_session(actions=["turn_left"], allowed_origins=[doc_host])
    page.goto(f"{doc_host}/element.html?" + urlencode({"widget": allowed["widget_url"]}))
    events = poll(page, "window.events.length && window.events")
    assert events[0]["type"] == "ready" and events[0]["detail"]["sessionId"] == allowed["session_id"]
    frame = page.frame_locator("livecheck-widget iframe")
    assert frame.locator("#lc-camera").inner_text() == "Kamera einschalten"  # the language attribute
    refused = server.create_session(actions=["turn_left"], allowed_origins=["https://elsewhere.example"])
    page.goto(f"{doc_host}/element.html?" + urlencode({"widget": refused["widget_url"]}))
    events = poll(page, "window.events.length && window.events", 30)
    assert events[0]["type"] == "error" and events[0]["detail"]["code"] == "frame_refused", events
