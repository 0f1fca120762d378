"""Shared fixtures: the real models and the real media from ../shared (or LIVECHECK_MODELS / LIVECHECK_MEDIA)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.support.paths import MEDIA_DIR, MODELS_DIR

os.environ.setdefault("GLOG_minloglevel", "2")
# The default session store lives in the per-user data dir: tests (and the servers they start) use a temporary one.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="livecheck-test-data-")


TIERS = ("unit", "webrtc", "e2e")
E2E_DIR = Path(__file__).resolve().parent.parent / "e2e"
# Fixtures that load the real models, read the shared files or start a server: a `unit` test never asks for one
# (`make check` runs the unit tier on a machine without ../shared).
MODEL_FIXTURES = {
    "engine",
    "app",
    "client",
    "small_engine",
    "session_app",
    "server",
    "models_dir",
    "media",
    "media_bytes",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: `pytest -m models` must see the marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test lands in one tier: unmarked tests are `models`; a `unit` test that asks for a model is an error.
    Tests under e2e/ are e2e (e2e/conftest.py marks them too)."""
    for item in items:
        if item.get_closest_marker("unit") is not None:
            heavy = MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if heavy:
                raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {sorted(heavy)}")
        elif E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
        elif not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.models)


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's apps get their own default session store (sessions and counters never leak between tests)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def media() -> Path:
    """Root of the shared media: images/, identity/, videos/ (see MEDIA.md there)."""
    return MEDIA_DIR


@pytest.fixture(scope="session")
def engine():
    """One engine with the real models for the whole run (model loading costs ~1 s)."""
    from scoring.engine import LivenessEngine
    from scoring.settings import EngineSettings

    eng = LivenessEngine.load(EngineSettings(), str(MODELS_DIR), landmarkers=4)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def media_bytes(media: Path):
    """Reads a shared media file by its path relative to the media root."""

    def read(relative: str) -> bytes:
        return (media / relative).read_bytes()

    return read


@pytest.fixture(scope="module")
def app(engine):
    """The Quart app on the shared engine with the test API key (a module may override it with other settings)."""
    from tests.support.api_support import make_app

    return make_app(engine)


@pytest.fixture
def client(app):
    """A test client that checks every response against /openapi.json."""
    from tests.support.api_support import CheckedClient

    return CheckedClient(app)
