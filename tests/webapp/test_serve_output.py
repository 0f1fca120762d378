"""`livecheck serve` is as quiet as `analyze` (issue 23): MediaPipe/TFLite's INFO/WARNING lines from C++ are
filtered out of its output (ERROR lines, Python's and Hypercorn's pass), `--verbose` shows them, and the start-up
line names every way in that needs no key."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from evaluation.local_server import ServeProcess
from webapp.cli import NATIVE_NOISE, _forward_filtered

NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"WARNING: Logging before InitGoogle() is written to STDERR",
    b"W0000 00:00:1796287499.643777   21066 face_landmarker_graph.cc:181] Sets FaceBlendshapesGraph acceleration.",
    b"I0000 00:00:1796287499.675950   21136 gl_context.cc:369] GL version: 3.2",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
KEPT = [
    b"livecheck: serving on http://127.0.0.1:8000 (2 workers, 1 API keys)",
    b"E0000 00:00:1796287499.7 21137 inference.cc:12] a real native error",
    b"Traceback (most recent call last):",
    b"[2026-12-03 08:45:00 +0000] [20321] [INFO] Running on http://127.0.0.1:18777 (CTRL + C to quit)",
]


@pytest.mark.unit
def test_the_filter_drops_native_chatter_and_keeps_everything_else() -> None:
    assert all(NATIVE_NOISE.match(line) for line in NOISE)
    assert not any(NATIVE_NOISE.match(line) for line in KEPT)
    source_r, source_w = os.pipe()
    sink_r, sink_w = os.pipe()
    copier = threading.Thread(target=_forward_filtered, args=(source_r, sink_w))
    copier.start()
    lines = [NOISE[0], KEPT[0], NOISE[2], KEPT[1], NOISE[4], KEPT[2]]
    data = b"\n".join(lines) + b"\n" + KEPT[3]  # the last line unterminated
    for start in range(0, len(data), 7):  # in pieces that cut lines anywhere
        os.write(source_w, data[start : start + 7])
    os.close(source_w)
    copier.join(5)
    os.close(sink_w)
    with os.fdopen(sink_r, "rb") as out:
        assert out.read() == b"\n".join([KEPT[0], KEPT[1], KEPT[2]]) + b"\n" + KEPT[3]


def _serve_log(tmp: Path, models_dir: Path, *args: str) -> str:
    log = tmp / "serve.log"
    env = {
        "LIVECHECK_MODELS": str(models_dir),
        "LIVECHECK_API_KEYS": "output-test-key",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "1",
        "LIVECHECK_FINDFACE__REQUIRE_KEY": "false",
        "LIVECHECK_STORE__URL": f"sqlite:///{tmp / 'livecheck.db'}",
        "GLOG_minloglevel": "0",  # as an operator's shell has it: nothing set
    }
    serve = ServeProcess.start(log, env=env, args=args)
    try:
        serve.wait_ready(90)
    finally:
        serve.stop(20)
    return log.read_text(encoding="utf-8", errors="replace")


def test_serve_hides_native_chatter_and_names_the_keyless_ways_in(models_dir: Path, tmp_path: Path) -> None:
    quiet = _serve_log(tmp_path / "quiet", models_dir)
    noisy = [line for line in quiet.splitlines() if NATIVE_NOISE.match(line.encode())]
    assert noisy == [], noisy
    start = next(line for line in quiet.splitlines() if line.startswith("livecheck: serving on"))
    assert "WITHOUT API KEY" in start and "demo page" in start and "[findface] require-key = false" in start
    assert "/metrics" in start
    verbose = _serve_log(tmp_path / "verbose", models_dir, "--verbose")
    assert any(NATIVE_NOISE.match(line.encode()) for line in verbose.splitlines()), "--verbose shows them"


def test_every_keyless_surface_is_named_with_the_setting_that_turns_it_off() -> None:
    from dataclasses import replace  # noqa: PLC0415

    from webapp.config import ServiceConfig  # noqa: PLC0415
    from webapp.huawei_auth import HuaweiAuth  # noqa: PLC0415
    from webapp.server import keyless_surfaces  # noqa: PLC0415

    default = ServiceConfig()
    assert not any("huawei" in s for s in keyless_surfaces(default))
    open_huawei = replace(default, huawei=replace(default.huawei, auth=HuaweiAuth.NONE))
    assert any('[huawei] auth = "none"' in s for s in keyless_surfaces(open_huawei))


def _catches_sigterm(pid: int) -> bool:
    """Whether process `pid` has a handler for SIGTERM (the SigCgt mask of /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def test_a_stop_asked_while_the_models_load_exits_cleanly(models_dir: Path, tmp_path: Path) -> None:
    """SIGTERM before the server serves (a supervisor stopping a process it has just started): exit 0 once
    loaded, not a death by the default action (-15; `serve --processes 2` then exited 241)."""
    server = ServeProcess.start(tmp_path / "serve.log", env={"LIVECHECK_MODELS": str(models_dir)})
    deadline = time.monotonic() + 60
    while not _catches_sigterm(server.process.pid) and server.process.poll() is None:
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.01)
    assert "serving on" not in server.tail()  # it catches SIGTERM from before its models load
    assert server.stop(60) == 0, server.tail()
    assert "draining node" in server.tail(), server.tail()
