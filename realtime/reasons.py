"""Reasons a live session fails that belong to the session, not to the frames (docs/protocol.md "Result").

The verdict's own reasons (low_liveness, flat_face, face_mismatch, ...) are scoring.reasons.Reason; the recording fallback's are
realtime.fallback.FallbackCode. StrEnum members compare equal to their strings, so stored results keep working.
"""

from __future__ import annotations

from enum import StrEnum


class LiveReason(StrEnum):
    TIMEOUT = "timeout"  # the whole check took longer than check-timeout-s
    CANCELLED = "cancelled"  # the user sent `cancel`
    DISCONNECTED = "disconnected"  # the peer connection failed or closed mid-check
    STREAM_ENDED = "stream_ended"  # the video track ended mid-check
    POSITIONING_FAILED = "positioning_failed"  # no steady, well-placed face within positioning-timeout-s
    NODE_LOST = "node_lost"  # the node running the check stopped heart-beating; another node decided it
    SERVER_SHUTDOWN = "server_shutdown"  # the node had to stop before the check ended
    INTERNAL_ERROR = "internal_error"  # the analysis failed (a bug, logged); never the user's fault
