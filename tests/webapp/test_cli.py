"""`livecheck analyze` as a user runs it: a subprocess on real media, human and JSON output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support import mediagen
from tests.support.paths import ROOT


def analyze(*args: str, models: Path | str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LIVECHECK_MODELS"}
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "analyze", *args, "--models", str(models)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def frame_of(tmp_path_factory, media: Path):
    """A JPEG of one frame of a shared video, as a reference photo of the same person."""

    def make(video: str, at_s: float) -> Path:
        frames, _ = mediagen.decode_frames((media / "videos" / video).read_bytes(), at_s, at_s + 0.2)
        path = tmp_path_factory.mktemp("ref") / f"{video}.jpg"
        path.write_bytes(mediagen.jpeg(frames[0]))
        return path

    return make


def test_live_still_exits_0(media: Path, models_dir: Path) -> None:
    result = analyze(str(media / "images/image_T1.jpg"), models=models_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alive: True" in out
    assert "reasons: -" in out
    assert "best face: frame 0" in out
    assert "time (ms):" in out and "landmarks" in out and "antispoof" in out


def test_spoof_still_exits_1(media: Path, models_dir: Path) -> None:
    result = analyze(str(media / "images/image_F1.jpg"), models=models_dir)
    assert result.returncode == 1, result.stderr
    assert "alive: False" in result.stdout
    assert "low_liveness" in result.stdout


def test_video_with_actions_and_reference_human_output(media: Path, models_dir: Path, frame_of) -> None:
    reference = frame_of("d18.mp4", 0.5)
    result = analyze(
        str(media / "videos/d18.mp4"), "--actions", "open_mouth", "--reference", str(reference), models=models_dir
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alive: True" in out
    assert "action open_mouth: passed" in out
    assert "match: same_person=True" in out
    assert "best face: frame" in out
    assert "time (ms):" in out and "decode" in out


def test_video_json_is_the_whole_verdict(media: Path, models_dir: Path) -> None:
    result = analyze(
        str(media / "videos/d12.mp4"),
        "--actions",
        "turn_left,open_mouth,turn_right",
        "--json",
        "--reference",
        str(media / "identity/biden.jpg"),
        models=models_dir,
    )
    assert result.returncode == 1, result.stderr  # turn_right does not come after open_mouth in d12
    verdict = json.loads(result.stdout)
    assert verdict["kind"] == "video" and verdict["alive"] is False
    assert verdict["reasons"] == ["actions_failed"]
    assert [(a["action"], a["passed"]) for a in verdict["actions"]] == [
        ("turn_left", True),
        ("open_mouth", True),
        ("turn_right", False),
    ]
    assert verdict["match"]["same_person"] is False
    assert verdict["average_liveness"] >= 0.6
    best = verdict["best_face"]
    assert set(best) >= {"frame_no", "timestamp_s", "bbox", "quality", "liveness"}
    assert {"decode", "landmarks", "antispoof", "embedding", "total"} <= set(verdict["timings_ms"])
    assert verdict["frames"]["liveness"] >= 10


def test_quiet_by_default_native_log_lines_with_verbose(media: Path, models_dir: Path) -> None:
    """MediaPipe/TFLite write INFO/WARNING lines from C++ on every model load; the CLI hides them unless asked."""
    clip = str(media / "videos/d0.mp4")
    quiet = analyze(clip, models=models_dir)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "alive: True" in quiet.stdout
    loud = analyze(clip, "--verbose", models=models_dir)
    assert loud.returncode == 0
    assert "XNNPACK" in loud.stderr  # the lines are still there for whoever asks
    assert loud.stdout.splitlines()[0] == quiet.stdout.splitlines()[0]


def test_action_time_option(media: Path, models_dir: Path) -> None:
    result = analyze(
        str(media / "videos/d12.mp4"),
        "--actions",
        "turn_left",
        "--action-time",
        "2500-6000",
        "--json",
        models=models_dir,
    )
    assert result.returncode == 1
    (action,) = json.loads(result.stdout)["actions"]
    assert action["passed"] is False and action["window_s"] == [2.5, 6.0]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_input"),
        (b"\x01" + os.urandom(4095), "unsupported_media"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "corrupt_media"),
    ],
)
@pytest.mark.slow  # a CLI process each (~3 s)
def test_bad_input_exits_2_before_loading_models(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    # A models directory that does not exist: the input error must come first (no model is loaded for it).
    result = analyze(str(path), models=tmp_path / "no-models")
    assert result.returncode == 2
    assert f"[{code}]" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = analyze(str(path), "--json", models=tmp_path / "no-models")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["code"] == code


def test_truncated_video_exits_2(tmp_path: Path, media: Path, models_dir: Path) -> None:
    path = tmp_path / "cut.mp4"
    data = (media / "videos/d12.mp4").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = analyze(str(path), models=models_dir)
    assert result.returncode == 2
    assert "[corrupt_media]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--actions", "jump"), "invalid_actions"),
        (("--action-time", "100"), "bad action window"),
        (("--nod-threshold", "0"), "nod_threshold"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    photo = tmp_path / "grey.jpg"  # a valid JPEG: the options, not the file, are what is wrong
    photo.write_bytes(mediagen.jpeg(np.full((240, 320, 3), 128, dtype=np.uint8)))
    result = analyze(str(photo), *args, models=tmp_path / "no-models")
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path, models_dir: Path) -> None:
    result = analyze(str(tmp_path / "nope.mp4"), models=models_dir)
    assert result.returncode == 2
    assert "nope.mp4" in result.stderr and "Traceback" not in result.stderr
