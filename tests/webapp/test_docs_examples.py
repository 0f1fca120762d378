"""docs/api.md's examples run as printed against a real `livecheck serve` (evaluation.local_server.ServeProcess).

Every block marked `<!-- example: NAME server=MODE expect=KEY -->` is written out unchanged and run (sh blocks with
bash -eu -o pipefail, python blocks with the venv's python3) in a directory holding what the docs name: video.mp4
(d0, 3 s), photo.jpg (a frame of it), encrypt.py (the silent client printed in the docs); with LIVECHECK, KEY,
AES_KEY, AES_IV, HUAWEI_AK, HUAWEI_SK set. MODE picks the server: `token` (the defaults plus keys and the silent AES
key) or `aksk` (`[huawei] auth = "aksk"`). Each must exit 0 and print a JSON object holding KEY. A curl line
anywhere in docs/api.md outside a marked example fails the test: every runnable example is run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluation.local_server import ServeProcess
from tests.support.mediagen import decode_frames, jpeg
from tests.support.paths import ROOT

DOC = ROOT / "docs" / "api.md"
MARKER = re.compile(r"<!-- example: (\S+) server=(\S+) expect=(\S+) -->\n```(\w+)\n(.*?)```", re.S)
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)
KEY = "docs-example-key"
AES_KEY, AES_IV = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"
HUAWEI_AK, HUAWEI_SK = "DOCSEXAMPLEAK", "docs-example-secret-key-0123456789"


def examples() -> list[tuple[str, str, str, str, str]]:
    return MARKER.findall(DOC.read_text())


def test_every_curl_line_is_in_a_run_example() -> None:
    text = DOC.read_text()
    marked = {body for *_, body in examples()}
    unmarked = [body for _, body in BLOCK.findall(text) if "curl " in body and body not in marked]
    assert not unmarked, f"docs/api.md has curl examples no test runs: {unmarked}"
    assert len(examples()) >= 7


@pytest.fixture(scope="module")
def servers(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServeProcess]]:
    logs = tmp_path_factory.mktemp("serve")
    base = {
        "LIVECHECK_MODELS": str(models_dir),
        "LIVECHECK_API_KEYS": KEY,
        "LIVECHECK_SERVER__SILENT_AES_KEY": AES_KEY,
        "LIVECHECK_SERVER__SILENT_AES_IV": AES_IV,
        "XDG_DATA_HOME": str(logs),
    }
    modes = {
        "token": base,
        "aksk": {**base, "LIVECHECK_HUAWEI__AUTH": "aksk", "LIVECHECK_HUAWEI__ACCESS_KEYS": f"{HUAWEI_AK}:{HUAWEI_SK}"},
    }
    started = {mode: ServeProcess.start(logs / f"{mode}.log", env=env) for mode, env in modes.items()}
    try:
        for serve in started.values():
            serve.wait_ready()
        yield started
    finally:
        for serve in started.values():
            serve.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, media_bytes) -> Path:  # type: ignore[no-untyped-def]
    where = tmp_path_factory.mktemp("docs-examples")
    video = media_bytes("videos/d0.mp4")
    (where / "video.mp4").write_bytes(video)
    frames, _ = decode_frames(video, 0.0, 0.1)
    (where / "photo.jpg").write_bytes(jpeg(frames[0]))
    found = re.search(r"<!-- example: silent-encrypt-python -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/api.md lost the silent encryption client"
    (where / "encrypt.py").write_text(found.group(1))
    return where


@pytest.mark.parametrize(("name", "mode", "expect", "language", "body"), examples(), ids=[e[0] for e in examples()])
def test_example_runs_as_printed(servers, workdir, name, mode, expect, language, body) -> None:  # type: ignore[no-untyped-def]
    serve = servers[mode]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LIVECHECK": serve.url,
        "KEY": KEY,
        "AES_KEY": AES_KEY,
        "AES_IV": AES_IV,
        "HUAWEI_AK": HUAWEI_AK,
        "HUAWEI_SK": HUAWEI_SK,
    }
    if language == "sh":
        command = ["bash", "-eu", "-o", "pipefail", "-c", body]
    else:
        assert language == "python", f"{name}: no runner for {language}"
        script = workdir / f"{name}.py"
        script.write_text(body)
        command = [sys.executable, str(script)]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}\n{serve.tail()}"
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(reply, dict) and expect in reply, f"{name}: {done.stdout[:500]}"
