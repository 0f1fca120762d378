"""An upload as the engine first meets it: which kind it is (`sniff`, scoring/formats.py) and, without any
model, whether it passes every check its bytes and headers allow (`preflight`). Videos are scoring/video.py,
stills scoring/still.py; the names callers use from here are re-exported."""

from __future__ import annotations

from scoring import errors
from scoring.errors import InputError
from scoring.formats import sniff
from scoring.settings import MediaLimits
from scoring.still import decode_image
from scoring.video import DecodedFrame, VideoReader, analysis_size

__all__ = ["DecodedFrame", "VideoReader", "analysis_size", "decode_image", "preflight", "sniff"]


def preflight(data: bytes, limits: MediaLimits) -> str:
    """'video' or 'image' when the upload passes every check that needs no model (size, format, headers);
    otherwise the same InputError the engine would raise. Lets a caller fail fast before loading models."""
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The upload is empty (0 bytes).")
    if sniff(data) == "image":
        decode_image(data, limits)
        return "image"
    with VideoReader(data, limits):
        return "video"
