"""End-to-end fixtures: a real `livecheck serve` subprocess, Debian's Chromium driven by Playwright with a fake
camera generated from ../shared/media, a second origin hosting an embedding page, and the integrator's API.

Run inside a loopback-only namespace (`make test` does): the server offers 127.0.0.1 as its ICE host candidate
and Chromium is allowed loopback candidates, so every packet stays on `lo`.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.y4m import Y4mInfo, generate_all
from evaluation.local_server import ServeError, ServeProcess
from tests.support.servers import Node

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "e2e"
AXE = ROOT / "clients" / "js" / "node_modules" / "axe-core" / "axe.min.js"
API_KEY = "e2e-test-key"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
BASE_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="Debian chromium is not installed (`make chromium` or apt-get install chromium)")
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.e2e)
            if CHROMIUM is None:
                item.add_marker(skip)


Server = Node  # the integrator's view of the server: sessions through its API with API_KEY


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        "LIVECHECK_API_KEYS": API_KEY,
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_STORE__URL": f"sqlite:///{log.parent / 'livecheck.db'}",  # never the user's data dir
        # Admission pinned open: the widget's tests share this server one after another, and a measured capacity
        # under the test machine's load (or a check from the previous test still winding down) answered the demo
        # page 503 busy. Admission itself is tested on servers of its own (tests/realtime/test_capacity.py, the busy e2e).
        "LIVECHECK_REALTIME__ADMIT_FRAME_MS": "1",
        "LIVECHECK_REALTIME__GUARANTEED_FPS": "1",
    }
    serve = ServeProcess.start(log, env=env)
    try:
        serve.wait_ready(120)
    except ServeError as exc:
        pytest.fail(str(exc))
    yield Server(serve.url, serve.process, log, API_KEY)
    serve.stop(20)


@pytest.fixture(scope="session")
def cameras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Y4mInfo]:
    media = Path(os.environ.get("LIVECHECK_MEDIA", ROOT.parent / "shared" / "media"))
    if not (media / "videos" / "d12.mp4").exists():
        pytest.fail(f"test media not found in {media} (set LIVECHECK_MEDIA)")
    return generate_all(media, tmp_path_factory.mktemp("cameras"))


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


BrowserFactory = Callable[..., Any]


@pytest.fixture
def launch(playwright_driver: Any) -> Iterator[BrowserFactory]:
    """launch(camera=Y4mInfo, grant=True, loopback=True) -> a new Playwright page (its browser closes after the test).

    extra_flags: more Chromium switches; color_scheme: what prefers-color-scheme answers.
    grant=False: the camera prompt is denied. fake_device=False: the browser has no camera. loopback=False: Chromium gathers no loopback ICE candidates, and in
    a loopback-only namespace that means no candidate at all, so WebRTC cannot connect.
    """
    browsers: list[Any] = []

    def factory(
        camera: Y4mInfo | None = None,
        *,
        grant: bool = True,
        loopback: bool = True,
        viewport: dict[str, int] | None = None,
        locale: str = "en-US",
        fake_device: bool = True,
        extra_flags: tuple[str, ...] = (),
        color_scheme: str = "light",
    ) -> Any:
        flags = list(BASE_FLAGS) + list(extra_flags)
        if fake_device:  # without it, headless Chromium on this machine has no camera at all
            flags.append("--use-fake-device-for-media-stream")
        if camera is not None:
            flags.append(f"--use-file-for-fake-video-capture={camera.path}")
        flags.append("--use-fake-ui-for-media-stream" if grant else "--deny-permission-prompts")
        if loopback:
            flags.append("--allow-loopback-in-peer-connection")
        browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        browsers.append(browser)
        context = browser.new_context(
            viewport=viewport or {"width": 480, "height": 900}, locale=locale, color_scheme=color_scheme
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda msg: print(f"[browser {msg.type}] {msg.text}"))
        return page

    yield factory
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class _HostHandler(http.server.BaseHTTPRequestHandler):
    """Serves one embedding page; the widget URL and the server's base arrive in the query string."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = HOST_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>host</title>
<style>body { margin: 0; font: 16px/1.4 sans-serif; } header { padding: 12px 16px; background: #eee; }
main { padding: 0 8px; }</style></head><body>
<header><h1 style="margin:0;font-size:1.2rem">Integrator page</h1><p style="margin:4px 0 0">Checkout, step 2 of 3</p>
</header><main><div id="slot"></div></main>
<script>
  const params = new URLSearchParams(location.search);
  window.received = [];
  window.events = [];
  window.addEventListener('message', (e) => window.received.push({origin: e.origin, data: e.data}));
  const options = {widgetUrl: params.get('widget')};
  for (const name of ['language', 'colorScheme', 'height', 'fullScreen']) if (params.get(name)) options[name] = params.get(name);
  if (params.get('strings')) options.strings = JSON.parse(params.get('strings'));
  if (params.get('frameTimeoutMs')) options.frameTimeoutMs = Number(params.get('frameTimeoutMs'));
  for (const type of ['Ready', 'Progress', 'Completed', 'Cancelled', 'Error', 'Retry']) {
    options['on' + type] = (event) => window.events.push(event);
  }
  const script = document.createElement('script');
  script.src = params.get('server') + '/embed.js';
  script.onload = () => {
    window.outcome = LiveCheck.mount(document.getElementById('slot'), options)
      .then((widget) => { window.mounted = widget.sessionId; return widget.result; })
      .then((result) => (window.completed = result))
      .catch((err) => (window.mountError = {name: err.name, code: err.code, message: err.message}));
  };
  document.head.appendChild(script);
</script></body></html>"""


@pytest.fixture(scope="session")
def host_origin() -> Iterator[str]:
    """A second origin (another port) that embeds the widget with embed.js."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `npm ci` in clients/js (make test does it when npm is there)")
    return AXE.read_text(encoding="utf-8")


class Axe:
    """axe-core run inside a frame (Playwright's evaluate is not subject to the page's CSP); collects every
    violation with the screen it was found on."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.screens: list[str] = []
        self.violations: list[dict[str, Any]] = []

    def check(self, frame: Any, name: str) -> None:
        if not frame.evaluate("typeof window.axe !== 'undefined'"):
            frame.evaluate(self.source + "\n;true")
        found = frame.evaluate(
            """axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations.map((v) =>
                 ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' '))})))"""
        )
        self.screens.append(name)
        self.violations += [{"screen": name, **v} for v in found]


@pytest.fixture
def axe(axe_source: str) -> Any:
    checker = Axe(axe_source)
    yield checker
    print(f"axe: {len(checker.screens)} screens {checker.screens}: {len(checker.violations)} violations")
    assert checker.violations == [], checker.violations
