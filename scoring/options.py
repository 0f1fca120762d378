"""What a caller asks of one analysis besides liveness; validated on construction (InputError, never a 500)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoring import errors
from scoring.actions import parse_actions
from scoring.errors import InputError


@dataclass(frozen=True)
class AnalysisOptions:
    """What a caller asks for besides liveness."""

    actions: tuple[str, ...] = ()
    action_windows_ms: tuple[tuple[int, int], ...] | None = None  # one (start, end) per action
    nod_threshold_deg: float | None = None
    reference: bytes | None = None  # a photo to match the best face against
    mf_selector: str | None = None  # overrides the engine's reject | biggest
    min_seconds: float | None = None  # overrides the short_time limit (Huawei: 1 s)
    auto_rotate: bool = False  # the reference photo may be stored sideways: try quarter turns (scoring.orientation)
    # The reference's embedding when the caller already found its face (photo_face): it is not analyzed again.
    reference_embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            parse_actions(self.actions)
        except ValueError as exc:
            raise InputError(errors.INVALID_ACTIONS, str(exc)) from None
        if self.action_windows_ms is not None:
            if len(self.action_windows_ms) != len(self.actions):
                raise InputError(errors.INVALID_ACTIONS, "action_time must give one window per action.")
            for start, end in self.action_windows_ms:
                if start < 0 or end <= start:
                    raise InputError(errors.INVALID_ACTIONS, f"Invalid action window {start}-{end} ms.")
        if self.nod_threshold_deg is not None and not 1 <= self.nod_threshold_deg <= 90:
            raise InputError(errors.INVALID_ACTIONS, "nod_threshold must be within 1..90 degrees.")
