"""Input errors with stable codes. Adapters map codes to their own API's error shape and status."""

from __future__ import annotations


class InputError(Exception):
    """The input cannot be analyzed. `code` is stable and documented; `message` is for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Stable codes (docs/errors.md lists them with the HTTP status each API maps them to).
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


class Overloaded(Exception):
    """A shared resource (a model pool) stayed busy past its bounded wait: retry later, the input is fine."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
