"""The light challenge in Debian's Chromium: the widget, WebRTC and the server all real. The camera is the fake
device playing d19 (a live clip), passed through an init script that replaces getUserMedia with a canvas stream
drawing each camera frame lit by the colour the widget is showing (`data-light-color` on the widget's root, set by
light.js): a face reflecting the screen, with more light at its centre than at its sides. Without the tint the
same clip is an injected recording, and fails `light_mismatch`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import API_KEY, ROOT, Server
from e2e.test_widget import open_widget, poll
from e2e.y4m import Y4mInfo, video_to_y4m
from evaluation.local_server import ServeError, ServeProcess

# Replaces getUserMedia: the real (fake-device) camera drawn on a canvas, lit by the widget's colour when `tint`.
CANVAS_CAMERA = """(() => {
  const TINT = %s;
  const COLORS = {black: [0, 0, 0], white: [255, 255, 255], red: [255, 0, 0], yellow: [255, 255, 0],
    lime: [0, 255, 0], cyan: [0, 255, 255], blue: [0, 0, 255], magenta: [255, 0, 255]};
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const source = await real(constraints);
    const video = document.createElement('video');
    video.muted = true; video.playsInline = true; video.srcObject = source;
    await video.play();
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    window.__shown = [];
    const draw = () => {
      ctx.globalCompositeOperation = 'source-over';
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const root = document.getElementById('livecheck');
      const color = root && root.dataset.lightColor;
      if (TINT && color && COLORS[color]) {
        const [r, g, b] = COLORS[color];
        const w = canvas.width, h = canvas.height;
        const light = ctx.createRadialGradient(w * 0.5, h * 0.45, 0, w * 0.5, h * 0.45, w * 0.38);
        light.addColorStop(0, `rgba(${r}, ${g}, ${b}, 0.24)`);
        light.addColorStop(1, `rgba(${r}, ${g}, ${b}, 0.0)`);
        ctx.globalCompositeOperation = 'lighter';
        ctx.fillStyle = light;
        ctx.fillRect(0, 0, w, h);
      }
      if (color && window.__shown[window.__shown.length - 1] !== color) window.__shown.push(color);
    };
    setInterval(draw, 1000 / 30);
    const stream = canvas.captureStream(30);
    stream.getVideoTracks()[0].stop = () => source.getTracks().forEach((t) => t.stop());
    return stream;
  };
})();"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The e2e server with the light window widened to 700 ms: Chromium, the server and other work share this
    2-core machine, and colour -> tinted frame back at the server took 370-510 ms under load in the Python
    harness (docs/verdict.md "Light challenge"); a real display and camera need <= 400 ms (the default)."""
    log = tmp_path_factory.mktemp("light-server") / "server.log"
    env = {
        "LIVECHECK_API_KEYS": API_KEY,
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_REALTIME__LIGHT_MAX_LAG_MS": "700",
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


@pytest.fixture(scope="module")
def d19_camera(cameras: dict[str, Y4mInfo]) -> Y4mInfo:
    """d19 (a live clip with big expression changes), generated next to the other fake cameras."""
    media = Path(os.environ.get("LIVECHECK_MEDIA", ROOT.parent / "shared" / "media"))
    return video_to_y4m(media / "videos" / "d19.mp4", cameras["d12"].path.parent / "d19_light.y4m", hold_first_s=0.5)


def run_light_check(server: Server, launch: Any, camera: Y4mInfo, tint: bool, artifacts: Path, name: str) -> Any:
    created = server.create_session(action_count=0, light=True)
    page = launch(camera)
    page.add_init_script(CANVAS_CAMERA % ("true" if tint else "false"))
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    page.locator("#lc-start").click()
    # the photosensitivity notice comes first; the user continues with the colours
    page.locator("#lc-light-on").wait_for()
    assert page.locator("#lc-light-off").is_visible(), "a way to continue without lights"
    page.screenshot(path=str(artifacts / f"light-notice-{name}.png"))
    page.locator("#lc-light-on").click()
    page.wait_for_selector("#livecheck[data-phase='light']", timeout=40_000)
    poll(page, "!!document.getElementById('livecheck').dataset.lightColor", 10)
    page.screenshot(path=str(artifacts / f"light-{name}.png"))
    assert page.locator("#lc-video").is_visible() and page.locator("#lc-oval").is_visible(), "the oval stays"
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=60_000)
    body = server.wait_decided(created["session_id"])
    return page, body


def test_a_camera_that_reflects_the_widgets_colours_passes(
    server: Server, launch: Any, d19_camera: Y4mInfo, artifacts: Path
) -> None:
    page, body = run_light_check(server, launch, d19_camera, True, artifacts, "reflected")
    light = body["result"]["light"]
    print("light, reflected:", light)
    assert body["status"] == "SUCCEEDED", body["result"]["reasons"]
    assert light["outcome"] == "passed" and body["result"]["assurance"] == "high", light
    assert page.evaluate("window.__shown.filter((c) => c !== 'off')") == light["colors"], "what the page showed"
    assert page.locator("#livecheck").get_attribute("data-result") == "passed"


def test_the_same_camera_without_the_tint_fails_light_mismatch(
    server: Server, launch: Any, d19_camera: Y4mInfo, artifacts: Path
) -> None:
    page, body = run_light_check(server, launch, d19_camera, False, artifacts, "untinted")
    print("light, untinted:", body["result"]["light"])
    assert body["status"] == "FAILED" and "light_mismatch" in body["result"]["reasons"], body["result"]
    assert page.locator("#livecheck").get_attribute("data-result") == "failed"


def test_declining_the_colours_shows_none_and_the_result_says_so(
    server: Server, cameras: dict[str, Y4mInfo], launch: Any, d19_camera: Y4mInfo
) -> None:
    created = server.create_session(action_count=0, light=True)
    page = launch(d19_camera)
    open_widget(page, created["widget_url"])
    page.locator("#lc-camera").click()
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    page.locator("#lc-start").click()
    page.locator("#lc-light-off").click()
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=60_000)
    assert page.locator("#lc-light").count() == 0, "no colour layer was ever made"
    body = server.wait_decided(created["session_id"])
    assert body["result"]["light"]["outcome"] == "declined" and body["result"]["assurance"] == "low", body
