"""Input errors with stable codes. Adapters map codes to their own API's error shape and status."""

from __future__ import annotations

from enum import StrEnum


class InputError(Exception):
    """The input cannot be analyzed. `code` is stable and documented; `message` is for a person."""

    def __init__(self, code: InputCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InputCode(StrEnum):
    """Stable codes (docs/errors.md lists them with the HTTP status each API maps them to)."""

    EMPTY_INPUT = "empty_input"
    INPUT_TOO_LARGE = "input_too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    CORRUPT_MEDIA = "corrupt_media"
    EXPECTED_VIDEO = "expected_video"
    EXPECTED_IMAGE = "expected_image"
    VIDEO_TOO_LONG = "video_too_long"
    VIDEO_TOO_SHORT = "video_too_short"
    FPS_TOO_HIGH = "fps_too_high"
    RESOLUTION_TOO_HIGH = "resolution_too_high"
    INVALID_ACTIONS = "invalid_actions"


# The module-level names ~100 callers use (`codes.EMPTY_INPUT`): the same members, not a second vocabulary.
EMPTY_INPUT = InputCode.EMPTY_INPUT
INPUT_TOO_LARGE = InputCode.INPUT_TOO_LARGE
UNSUPPORTED_MEDIA = InputCode.UNSUPPORTED_MEDIA
CORRUPT_MEDIA = InputCode.CORRUPT_MEDIA
EXPECTED_VIDEO = InputCode.EXPECTED_VIDEO
EXPECTED_IMAGE = InputCode.EXPECTED_IMAGE
VIDEO_TOO_LONG = InputCode.VIDEO_TOO_LONG
VIDEO_TOO_SHORT = InputCode.VIDEO_TOO_SHORT
FPS_TOO_HIGH = InputCode.FPS_TOO_HIGH
RESOLUTION_TOO_HIGH = InputCode.RESOLUTION_TOO_HIGH
INVALID_ACTIONS = InputCode.INVALID_ACTIONS


class Overloaded(Exception):
    """A shared resource (a model pool) stayed busy past its bounded wait: retry later, the input is fine."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
