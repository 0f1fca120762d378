"""The widget in Debian's Chromium with a fake camera: what the page shows and what the integrator API returns."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import API_KEY, Axe, Server
from e2e.y4m import Y4mInfo
from evaluation.local_server import ServeError, ServeProcess

D12_ACTIONS = ["turn_left", "turn_right", "open_mouth"]  # what d12.mp4 does, in order (MEDIA.md)


def poll(page: Any, expression: str, timeout_s: float = 10) -> None:
    """wait_for_function evaluates strings with eval(), which the widget's CSP forbids; poll from here instead."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def open_widget(page: Any, url: str) -> None:
    page.goto(url)
    page.locator("#lc-camera").wait_for()


def start_live_check(page: Any, shots: Path | None = None, name: str = "") -> None:
    page.locator("#lc-camera").click()
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    if shots is not None:
        poll(page, "document.getElementById('lc-video').readyState >= 2")
        page.screenshot(path=str(shots / f"{name}start.png"))
    page.locator("#lc-start").click()


def test_d12_with_its_actions_passes(server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path) -> None:
    created = server.create_session(actions=D12_ACTIONS)
    page = launch(cameras["d12"])
    open_widget(page, created["widget_url"])
    assert "#token" not in page.url and "token=" not in page.url  # scrubbed from the address bar
    start_live_check(page, artifacts)
    page.wait_for_selector("#livecheck[data-phase='challenge'] #lc-cue:not([hidden])", timeout=40_000)
    assert page.locator("#lc-prompt").inner_text().strip() == "Turn your head to your left"
    assert page.locator("#lc-prompt").get_attribute("aria-live") == "assertive"
    assert page.locator("#lc-countdown").inner_text().strip().isdigit()
    assert page.locator("#lc-step").inner_text().strip() == "Step 1 of 3"
    page.screenshot(path=str(artifacts / "prompt.png"))
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=60_000)
    page.screenshot(path=str(artifacts / "success.png"))
    assert page.locator("#livecheck").get_attribute("data-result") == "passed", server.wait_decided(
        created["session_id"]
    )
    assert "passed" in page.locator("#lc-heading").inner_text()
    body = server.wait_decided(created["session_id"])
    assert body["status"] == "SUCCEEDED", body
    assert [a["action"] for a in body["result"]["actions"]] == D12_ACTIONS
    # The page never shows a score.
    assert "liveness" not in page.content().lower().replace("liveness check", "")


def test_still_photo_camera_does_not_pass(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path
) -> None:
    created = server.create_session(actions=["turn_left", "open_mouth"])
    page = launch(cameras["live_still"])
    open_widget(page, created["widget_url"])
    start_live_check(page)
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=90_000)
    page.screenshot(path=str(artifacts / "failure.png"))
    assert page.locator("#livecheck").get_attribute("data-result") == "failed"
    assert page.locator("#lc-heading").inner_text() == "Check not passed"
    assert page.locator("#lc-next").is_visible()  # the way forward
    body = server.wait_decided(created["session_id"])
    assert body["status"] == "FAILED", body
    assert body["result"]["alive"] is False


def test_camera_permission_denied_says_so_and_offers_a_way_forward(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path
) -> None:
    created = server.create_session(actions=["turn_left"])
    page = launch(cameras["d12"], grant=False)
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-error='permission_denied']")
    page.screenshot(path=str(artifacts / "permission-denied.png"))
    assert "Camera access is blocked" in page.locator("#lc-heading").inner_text()
    assert "allow" in page.locator("#lc-body").inner_text().lower()
    retry = page.get_by_role("button", name="Try again")
    assert retry.is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Try again"  # keyboard: focus on the way forward
    # Nothing reached the server: the session is still unused and can run once the user allows the camera.
    assert server.session(created["session_id"])["status"] == "CREATED"


def test_no_camera_says_so_and_offers_a_way_forward(server: Server, launch: Any, artifacts: Path) -> None:
    created = server.create_session(actions=["turn_left"])
    page = launch(None, fake_device=False)  # a real Chromium with no video device at all
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-error='no_camera']")
    page.screenshot(path=str(artifacts / "no-camera.png"))
    assert page.locator("#lc-heading").inner_text() == "No camera found"
    assert page.get_by_role("button", name="Try again").is_visible()
    assert server.session(created["session_id"])["status"] == "CREATED"  # nothing was spent


def test_camera_in_use_says_so_and_retry_works_once_it_is_free(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path
) -> None:
    created = server.create_session(actions=["turn_left"])
    page = launch(cameras["d12"])
    # Chromium rejects getUserMedia with NotReadableError when another program holds the device; a fake device
    # cannot be held, so the first call gets exactly that rejection and later calls reach the real fake camera.
    page.add_init_script("""(() => {
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      let calls = 0;
      navigator.mediaDevices.getUserMedia = (constraints) => (++calls === 1
        ? Promise.reject(new DOMException('Could not start video source', 'NotReadableError'))
        : real(constraints));
    })();""")
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-error='camera_in_use']")
    page.screenshot(path=str(artifacts / "camera-in-use.png"))
    assert page.locator("#lc-heading").inner_text() == "Your camera is busy"
    page.get_by_role("button", name="Try again").click()
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)  # the way forward leads to a check
    assert server.session(created["session_id"])["status"] in ("CREATED", "IN_PROGRESS")


def test_network_dropped_mid_check_says_so_and_the_server_fails_the_session(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path, axe: Axe
) -> None:
    """The server goes silent mid-check (SIGSTOP: no packet answers, as when the network drops), then comes back."""
    created = server.create_session(actions=["turn_left", "turn_right", "open_mouth"])
    page = launch(cameras["d12"])
    open_widget(page, created["widget_url"])
    start_live_check(page)
    page.wait_for_selector("#livecheck[data-screen='check']", timeout=20_000)
    server.process.send_signal(signal.SIGSTOP)
    try:
        page.wait_for_selector("#livecheck[data-error='network']", timeout=45_000)
    finally:
        server.process.send_signal(signal.SIGCONT)
    page.screenshot(path=str(artifacts / "network-lost.png"))
    axe.check(page.main_frame, "network lost")
    assert page.locator("#lc-heading").inner_text() == "Connection lost"
    # opened on its own, without a return_url: no button that would do nothing; the text says where to go
    assert page.locator("#lc-buttons button").count() == 0
    assert "start a new check" in page.locator("#lc-body").inner_text()
    body = server.wait_decided(created["session_id"], 60)
    # whichever the resumed server notices first (its timers ran on while it was stopped, or the closed peer)
    assert body["status"] == "FAILED" and body["result"]["alive"] is False and body["result"]["reasons"], body


def test_webrtc_blocked_falls_back_to_a_recording_the_server_decides(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path, axe: Axe
) -> None:
    created = server.create_session(actions=["turn_left", "open_mouth"], recording_fallback=True)
    page = launch(cameras["d12"], loopback=False)
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-mode='recording'][data-screen='start']", timeout=30_000)
    assert "record" in page.locator("#lc-body").inner_text().lower()
    page.locator("#lc-start").click()
    page.wait_for_selector("#lc-rec:not([hidden])")
    page.wait_for_selector("#livecheck[data-phase='challenge'] #lc-cue:not([hidden])", timeout=10_000)
    page.screenshot(path=str(artifacts / "recording.png"))
    assert page.locator("#lc-prompt").inner_text().strip() == "Turn your head to your left"
    axe.check(page.main_frame, "recording")
    page.wait_for_selector("#livecheck[data-screen='uploading']", timeout=60_000)  # shown while the server decides
    axe.check(page.main_frame, "uploading")
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=90_000)
    body = server.wait_decided(created["session_id"])
    assert body["status"] in ("SUCCEEDED", "FAILED"), body
    assert body["result"]["mode"] == "recording" and body["result"]["assurance"] == "low"
    shown = page.locator("#livecheck").get_attribute("data-result")
    assert shown == ("passed" if body["status"] == "SUCCEEDED" else "failed")


def test_cancel_in_the_recording_fallback_ends_the_session_cancelled(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any
) -> None:
    """Cancel while recording, and on the fallback's start screen: the server hears it (no data channel here) and
    the session ends FAILED with reason `cancelled` at once, not at the recording's deadline; nothing is uploaded."""
    page = launch(cameras["d12"], loopback=False)
    for recording in (True, False):
        created = server.create_session(actions=["turn_left", "open_mouth"], recording_fallback=True)
        open_widget(page, created["widget_url"])
        page.locator("#lc-camera").click()
        page.wait_for_selector("#livecheck[data-mode='recording'][data-screen='start']", timeout=30_000)
        if recording:
            page.locator("#lc-start").click()
            page.wait_for_selector("#livecheck[data-phase='challenge'] #lc-rec:not([hidden])", timeout=10_000)
            assert server.session(created["session_id"])["status"] == "IN_PROGRESS"
        page.locator("#lc-cancel").click()
        page.locator("#lc-confirm-cancel").click()
        page.wait_for_selector("#livecheck[data-result='cancelled']", timeout=10_000)
        assert page.locator("#lc-heading").inner_text() == "You cancelled"
        body = server.wait_decided(created["session_id"], 10)
        assert body["status"] == "FAILED" and body["result"]["reasons"] == ["cancelled"], body
        assert body["result"]["mode"] == "recording", body


def test_webrtc_blocked_without_the_fallback_says_so_and_claims_nothing(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any
) -> None:
    created = server.create_session(actions=["turn_left"])  # recording_fallback not allowed (the default)
    page = launch(cameras["d12"], loopback=False)
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-error='webrtc_failed']", timeout=30_000)
    assert page.locator("#lc-heading").inner_text() == "We couldn't connect"
    assert server.session(created["session_id"])["status"] == "CREATED"


def _host_page(host_origin: str, server: Server, widget_url: str) -> str:
    from urllib.parse import urlencode

    return f"{host_origin}/host.html?" + urlencode({"server": server.base, "widget": widget_url})


def test_allowed_host_origin_receives_completed(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, host_origin: str
) -> None:
    created = server.create_session(actions=["turn_left", "open_mouth"], allowed_origins=[host_origin])
    page = launch(cameras["d12"])
    page.goto(_host_page(host_origin, server, created["widget_url"]))
    frame_locator = page.frame_locator("#slot iframe")
    assert page.locator("#slot iframe").get_attribute("allow") == "camera"
    frame_locator.locator("#lc-camera").click()
    page.wait_for_function(
        "document.querySelector('#slot iframe') && window.received.some(m => m.data.type === 'livecheck:ready')"
    )
    frame_locator.locator("#lc-start:not([disabled])").click(timeout=20_000)
    frame_locator.get_by_role("button", name="Cancel").click(timeout=20_000)
    frame_locator.get_by_role("button", name="Cancel the check").click()
    page.wait_for_function("window.completed !== undefined", timeout=30_000)
    completed = page.evaluate("window.completed")
    assert completed == {"type": "cancelled", "sessionId": created["session_id"], "status": "FAILED"}
    messages = page.evaluate("window.received")
    server_origin = server.base
    assert all(m["origin"] == server_origin for m in messages)
    for message in messages:  # session id, status, an error screen's name, a height: nothing to tune against
        assert (
            {"type", "sessionId", "status"} <= set(message["data"]) <= {"type", "sessionId", "status", "code", "height"}
        )
    body = server.wait_decided(created["session_id"])
    assert body["status"] == "FAILED" and "cancelled" in body["result"]["reasons"], body


def test_host_origin_not_allowed_cannot_frame_the_widget(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, host_origin: str
) -> None:
    created = server.create_session(actions=["turn_left"], allowed_origins=["https://integrator.example"])
    page = launch(cameras["d12"])
    page.goto(_host_page(host_origin, server, created["widget_url"]))
    page.wait_for_selector("#slot iframe")
    page.wait_for_timeout(1500)
    frame = page.locator("#slot iframe").element_handle().content_frame()
    widget_loaded = frame is not None and frame.evaluate("!!document.getElementById('livecheck')") if frame else False
    assert not widget_loaded
    assert page.evaluate("window.received") == []
    assert server.session(created["session_id"])["status"] == "CREATED"


def test_spanish_phone_width_and_keyboard(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path
) -> None:
    created = server.create_session(actions=["turn_left"])
    page = launch(cameras["d12"], viewport={"width": 360, "height": 740}, locale="es-ES")
    open_widget(page, created["widget_url"])
    assert page.locator("#lc-camera").inner_text() == "Activar la cámara"
    assert page.evaluate("document.documentElement.lang") == "es"
    assert page.evaluate("document.activeElement.id") == "lc-camera"  # Enter works straight away
    page.keyboard.press("Enter")
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    poll(page, "document.getElementById('lc-video').readyState >= 2")
    assert page.evaluate("document.activeElement.id") == "lc-start"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
    page.screenshot(path=str(artifacts / "start-360-es.png"))


def test_expired_and_used_sessions_say_so(server: Server, launch: Any) -> None:
    page = launch(None)
    page.goto(f"{server.base}/widget/no-such-session#token=x")
    page.wait_for_selector("#livecheck[data-error='session_expired']")
    assert page.locator("#lc-buttons button").count() == 0  # no return_url: the text says go back to the site
    assert "Go back to the site" in page.locator("#lc-body").inner_text()

    created = server.create_session(actions=["turn_left"], recording_fallback=True)
    import httpx

    claimed = httpx.post(
        f"{server.base}/v1/sessions/{created['session_id']}/fallback",
        headers={"Authorization": f"Bearer {created['client_token']}"},
    )
    assert claimed.status_code == 200
    page.goto(created["widget_url"])
    page.wait_for_selector("#livecheck[data-error='session_used']")
    assert "already used" in page.locator("#lc-heading").inner_text()


def test_demo_page_runs_a_check_through_the_server(server: Server, cameras: dict[str, Y4mInfo], launch: Any) -> None:
    page = launch(cameras["d12"])
    page.goto(server.base + "/")
    page.get_by_role("button", name="Start a check").click()
    widget = page.frame_locator("#demo-widget iframe")
    widget.locator("#lc-camera").click()
    widget.locator("#lc-start:not([disabled])").click(timeout=20_000)
    widget.get_by_role("button", name="Cancel").click(timeout=20_000)
    widget.get_by_role("button", name="Cancel the check").click()
    try:
        page.wait_for_selector("body[data-result]", timeout=30_000)
    finally:  # on a failure, say what the widget showed and what the server said
        seen = (
            page.frames[1].evaluate("JSON.stringify(document.getElementById('livecheck').dataset)")
            if len(page.frames) > 1
            else "no widget frame"
        )
        said = page.locator("#demo-status").inner_text()
    assert page.locator("body").get_attribute("data-result") == "FAILED", (said, seen)
    assert "The server says: FAILED" in said
    # The demo endpoint serves its own page only.
    import httpx

    assert httpx.post(f"{server.base}/demo/sessions", headers={"Origin": "http://evil.example"}).status_code == 403


@pytest.fixture(scope="module")
def pinned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A node whose capacity is exactly one live check (tests/realtime/test_capacity.py's pinning: one frame worker and a
    fixed 100 ms frame cost at 10 fps is 1.0 of a worker, over admit-utilisation 0.8, and the floor is one)."""
    log = tmp_path_factory.mktemp("pinned") / "server.log"
    env = {
        "LIVECHECK_API_KEYS": API_KEY,
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_REALTIME__FRAME_WORKERS": "1",
        "LIVECHECK_REALTIME__ADMIT_FRAME_MS": "100",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_STORE__URL": f"sqlite:///{log.parent / 'livecheck.db'}",
    }
    serve = ServeProcess.start(log, env=env)
    try:
        serve.wait_ready(120)
    except ServeError as exc:
        pytest.fail(str(exc))
    yield Server(serve.url, serve.process, log, API_KEY)
    serve.stop(20)


BUSY_TEXT = re.compile(r"^Many checks are running right now\. Trying again in (\d+) s…$")


def test_a_busy_server_is_retried_after_retry_after_and_the_check_then_starts(
    pinned_server: Server, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path, axe: Axe
) -> None:
    """One check holds the node's only place: the second widget's offer is refused 503 busy; it says so with the
    seconds left, leaves its session unused, and asks again after Retry-After; once the first check ends (cancelled
    here, unless it already failed on its own) the second connects and can start."""
    server = pinned_server
    first = server.create_session(actions=["nod", "blink"])  # d12 never nods: the check runs until cancelled
    holder = launch(cameras["d12"])
    open_widget(holder, first["widget_url"])
    start_live_check(holder)
    holder.wait_for_selector("#livecheck[data-screen='check']", timeout=20_000)
    second = server.create_session(actions=["turn_left"])
    page = launch(cameras["d12"])
    open_widget(page, second["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-busy]", timeout=30_000)
    shown = page.locator("#lc-feedback").inner_text()
    match = BUSY_TEXT.match(shown)
    assert match and 1 <= int(match.group(1)) <= 30, shown
    assert page.locator("#lc-start").is_disabled()
    page.screenshot(path=str(artifacts / "busy.png"))
    axe.check(page.main_frame, "busy")
    assert server.session(second["session_id"])["status"] == "CREATED"  # a refused offer claims nothing
    time.sleep(1.5)
    later = BUSY_TEXT.match(page.locator("#lc-feedback").inner_text())
    assert later is None or int(later.group(1)) < int(match.group(1)), "the seconds count down"
    if holder.locator("#livecheck[data-screen='check'] #lc-cancel").count():  # else it already ended on its own
        holder.locator("#lc-cancel").click()
        holder.locator("#lc-confirm-cancel").click()
    assert server.wait_decided(first["session_id"])["status"] == "FAILED"
    page.locator("#lc-start:not([disabled])").wait_for(timeout=45_000)  # the next try after Retry-After
    assert page.locator("#livecheck[data-busy]").count() == 0 and page.locator("#lc-feedback").inner_text() == ""
    assert server.session(second["session_id"])["status"] == "IN_PROGRESS"


def test_a_server_busy_for_every_try_ends_on_the_error_screen(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any
) -> None:
    """The retries are bounded: an offer answered busy every time (the real answer's shape, 503 busy with
    Retry-After: 1, as a busy node sends it) is asked 1 + 3 times, then the error screen leads to a new check."""
    created = server.create_session(actions=["turn_left"])
    page = launch(cameras["d12"])
    offers: list[str] = []

    def busy(route: Any) -> None:
        offers.append(route.request.method)
        route.fulfill(
            status=503,
            headers={"Retry-After": "1", "Content-Type": "application/json"},
            body='{"error": {"code": "busy", "message": "This node is busy; try again shortly."}}',
        )

    page.route(re.compile(r".*/v1/sessions/[^/]+/offer$"), busy)
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.wait_for_selector("#livecheck[data-busy]", timeout=30_000)
    page.wait_for_selector("#livecheck[data-error='generic']", timeout=30_000)
    assert offers == ["POST"] * 4, offers
    assert page.locator("#lc-heading").inner_text() == "Something went wrong"
    assert server.session(created["session_id"])["status"] == "CREATED"
