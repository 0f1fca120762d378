"""Where the project and the shared models and media are (LIVECHECK_MODELS / LIVECHECK_MEDIA, else ../shared)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _shared(var: str, name: str) -> Path:
    return Path(os.environ.get(var) or ROOT.parent / "shared" / name)


MODELS_DIR = _shared("LIVECHECK_MODELS", "models")
MEDIA_DIR = _shared("LIVECHECK_MEDIA", "media")
