"""The call path of the REST APIs (native, FindFace, Huawei, Facia, silent): bytes + options -> Verdict, on the
worker pool, with the verdict metrics. The recording fallback's upload runs on the same pool through the session
registry (realtime/recording.py, judged as a session); its decided outcome is counted under endpoint `recording`
(webapp.services wires RecordingChecks.on_verdict to the same verdict metrics)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace

from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.imaging import encode_jpeg, encode_png
from scoring.settings import MediaLimits
from scoring.verdict import Verdict
from webapp.services import Services


async def analyze(
    svc: Services,
    endpoint: str,
    data: bytes,
    options: AnalysisOptions = AnalysisOptions(),
    *,
    limits: MediaLimits | None = None,
    kind: str = "any",
) -> Verdict:
    """kind: 'any' (sniffed), 'video' or 'image'. `limits` narrows the engine's for one API (Huawei's 15 s)."""
    engine = svc.engine
    limits = limits or svc.config.engine.limits
    if limits != engine.settings.limits:
        # Shares the loaded models; only the limits differ.
        engine = LivenessEngine(replace(engine.settings, limits=limits), engine.models)
    call = {"any": engine.analyze, "video": engine.analyze_video, "image": engine.analyze_image}[kind]
    verdict = await svc.pool.run(call, data, options)
    svc.metrics.verdict(endpoint, verdict.alive, verdict.timings_ms)
    return verdict


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str) -> bytes:
    """Strict base64 (data-URI prefix and whitespace tolerated); raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    if text.startswith("data:"):
        _, sep, text = text.partition(",")
        if not sep:
            raise ValueError("data URI without a comma")
    cleaned = "".join(text.split())
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


def photo_jpeg(verdict: Verdict, quality: int) -> bytes | None:
    return encode_jpeg(verdict.best_face.frame_rgb, quality) if verdict.best_face else None


def face_png(verdict: Verdict) -> bytes | None:
    return encode_png(verdict.best_face.face_rgb) if verdict.best_face else None
