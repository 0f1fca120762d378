"""Model manifest and loader: verify, install, and one clear message (file, expected sha256, how to install)
for a missing or corrupt file, from the CLI and from ModelStore; never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import MANIFEST, ModelError, ModelStore, resolve_models_dir
from models.loader import sha256_of
from tests.support.paths import ROOT

INSTALL_HINT = "livecheck models install --from"


def livecheck(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LIVECHECK_MODELS"}
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_models(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for item in MANIFEST:
        shutil.copyfile(source / item.filename, target / item.filename)
    return target


def assert_clear_message(text: str, filename: str, sha256: str) -> None:
    assert filename in text
    assert sha256 in text
    assert INSTALL_HINT in text
    assert "Traceback" not in text


def test_manifest_matches_the_shared_files(models_dir: Path) -> None:
    for item in MANIFEST:
        path = models_dir / item.filename
        assert path.stat().st_size == item.size, item.filename
        assert sha256_of(path) == item.sha256, item.filename
        assert item.licence and item.source


def test_versions_name_the_verified_files(models_dir: Path) -> None:
    versions = ModelStore.open(models_dir).versions()
    assert set(versions) >= {m.key for m in MANIFEST if m.required}
    for item in MANIFEST:
        if item.key in versions:
            assert versions[item.key] == f"{item.filename}@sha256:{sha256_of(models_dir / item.filename)[:12]}"


def test_cli_verify_ok(models_dir: Path) -> None:
    result = livecheck("models", "verify", "--models", str(models_dir))
    assert result.returncode == 0, result.stderr
    for item in MANIFEST:
        assert item.filename in result.stdout
    assert f"all {len(MANIFEST)} models verified" in result.stdout


def test_missing_file(models_dir: Path, tmp_path: Path) -> None:
    target = copy_models(models_dir, tmp_path / "models")
    victim = MANIFEST[0]
    (target / victim.filename).unlink()

    result = livecheck("models", "verify", "--models", str(target))
    assert result.returncode == 2
    assert "missing" in result.stderr
    assert_clear_message(result.stderr, victim.filename, victim.sha256)

    with pytest.raises(ModelError) as info:
        ModelStore.open(target)
    assert_clear_message(str(info.value), victim.filename, victim.sha256)


def test_corrupt_file(models_dir: Path, tmp_path: Path) -> None:
    target = copy_models(models_dir, tmp_path / "models")
    victim = next(item for item in MANIFEST if item.key == "antispoof_v2")
    path = target / victim.filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))

    result = livecheck("models", "verify", "--models", str(target))
    assert result.returncode == 2
    assert "corrupt" in result.stderr
    assert_clear_message(result.stderr, victim.filename, victim.sha256)
    others = [item.filename for item in MANIFEST if item is not victim]
    assert not any(name in result.stderr for name in others)  # only the broken file is named

    with pytest.raises(ModelError) as info:
        ModelStore.open(target)
    assert_clear_message(str(info.value), victim.filename, victim.sha256)


def test_analyze_with_corrupt_models_fails_cleanly(models_dir: Path, tmp_path: Path, media: Path) -> None:
    target = copy_models(models_dir, tmp_path / "models")
    victim = next(item for item in MANIFEST if item.key == "sface")
    (target / victim.filename).write_bytes(b"not a model")
    result = livecheck("analyze", str(media / "images/image_T1.jpg"), "--models", str(target))
    assert result.returncode == 2
    assert_clear_message(result.stderr, victim.filename, victim.sha256)


def test_install_copies_and_verifies(models_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "installed"
    result = livecheck("models", "install", "--from", str(models_dir), "--models", str(target))
    assert result.returncode == 0, result.stderr
    assert f"installed {len(MANIFEST)} model files" in result.stdout
    for item in MANIFEST:
        assert sha256_of(target / item.filename) == item.sha256
    assert not list(target.glob("*.part"))
    store = ModelStore.open(target)
    assert store.path("landmarker") == target / "face_landmarker.task"


def test_install_from_a_bad_source_copies_nothing_broken(models_dir: Path, tmp_path: Path) -> None:
    source = copy_models(models_dir, tmp_path / "source")
    victim = MANIFEST[-1]
    (source / victim.filename).write_bytes(b"\0" * victim.size)
    target = tmp_path / "installed"
    result = livecheck("models", "install", "--from", str(source), "--models", str(target))
    assert result.returncode == 2
    assert victim.filename in result.stderr and victim.sha256 in result.stderr and "Traceback" not in result.stderr
    assert not (target / victim.filename).exists()


@pytest.mark.unit
def test_models_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECHECK_MODELS", str(tmp_path / "env"))
    assert resolve_models_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_models_dir(None) == tmp_path / "env"
    monkeypatch.delenv("LIVECHECK_MODELS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_models_dir(None) == tmp_path / "xdg" / "livecheck" / "models"


@pytest.mark.unit
def test_verify_with_no_model_at_all_says_how_to_get_them(tmp_path: Path) -> None:
    """Exit 3 (not 2) tells `make run` this is a fresh machine, so it downloads the models instead of stopping."""
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "absent", tmp_path / "empty"):
        result = livecheck("models", "verify", "--models", str(target))
        assert result.returncode == 3, result.stderr
        assert "livecheck models download" in result.stderr and INSTALL_HINT in result.stderr
        assert str(target) in result.stderr and "Traceback" not in result.stderr
        with pytest.raises(ModelError, match="livecheck models download"):
            ModelStore.open(target)
