"""The recording fallback, timed by the server: prompts are released one at a time as the recording progresses.

Why: a schedule revealed at once lets any clip with the right movements be cut (or slowed) to fit, and a
pre-recorded clip be uploaded straight away. Here the client starts recording and says so (`start`); from then on
the server's clock is the recording's clock (clip time t = server time start + t). Prompt i is due at a
server-drawn, random moment and is only revealed when the client asks for it (not before it is due); the action
must start between when the server issued it (+ `min_reaction_ms`) and when the next prompt becomes due, and the
clip must not turn, nod or open the mouth before the first prompt was issued. The recording must arrive by the end of the schedule plus a small margin, and it cannot be longer than the time that
passed since the recording started. A clip recorded before the session knows neither the random order nor the
random times; what no server can rule out is a clip edited after each prompt was seen (docs/protocol.md).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from realtime.errors import SessionError
from realtime.settings import RealtimeSettings
from scoring.actions import Action

UNREACHABLE_WINDOW_MS = (10**9, 10**9 + 1)  # for a prompt never issued (or issued after its window closed)
# Movements a user asked to hold still in the oval does not make before the first prompt (blinks and smiles are
# left out: people do both unasked). A clip that makes one before it was prompted is not following the prompts.
PROBED_BEFORE_PROMPT = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD, Action.OPEN_MOUTH)


class FallbackCode(StrEnum):
    """Stable error codes and failure reasons of the recording fallback."""

    NOT_ALLOWED = "fallback_not_allowed"  # the integrator did not allow it for this session
    NOT_STARTED = "fallback_not_started"  # a prompt or an upload before `start`
    PROMPT_NOT_DUE = "prompt_not_due"  # asked for the next prompt too early (Retry-After says when)
    NO_MORE_PROMPTS = "no_more_prompts"
    DEADLINE_PASSED = "recording_deadline_passed"  # the upload arrived after the schedule's end + margin
    TIMELINE = "recording_timeline"  # the clip is longer than the time since the recording started
    MOVED_BEFORE_PROMPT = "moved_before_prompt"  # a head turn, nod or open mouth before the first prompt was issued
    EMPTY_RECORDING = "empty_recording"  # the upload had no bytes
    NOT_VIDEO = "recording_not_video"  # a still (an image, or a clip of fewer frames than a check needs), not video


@dataclass(frozen=True)
class FallbackTiming:
    lead_ms: tuple[int, int]  # the first prompt is due at a random moment in this range
    gap_ms: tuple[int, int]  # each prompt's window lasts a random time in this range
    early_ms: int  # a prompt asked for this much before it is due is still given
    min_reaction_ms: int
    upload_margin_ms: int
    timeline_slack_ms: int

    @classmethod
    def from_settings(cls, s: RealtimeSettings) -> FallbackTiming:
        return cls(
            (s.fallback_lead_min_ms, s.fallback_lead_max_ms),
            (s.fallback_gap_min_ms, s.fallback_gap_max_ms),
            s.fallback_early_ms,
            s.min_reaction_ms,
            int(s.fallback_upload_margin_s * 1000),
            s.fallback_timeline_slack_ms,
        )


@dataclass(frozen=True)
class FallbackPrompt:
    """One prompt as issued: times in ms since the recording started, on the server's clock."""

    action: str
    index: int
    total: int
    issued_ms: int
    ends_ms: int  # the window closes (and the next prompt is due) here


@dataclass
class FallbackPlan:
    actions: tuple[str, ...]
    started_at: float  # server wall clock (every node compares it), when the client said the recording started
    marks_ms: tuple[int, ...]  # marks[i]: prompt i is due; marks[-1]: the recording ends
    timing: FallbackTiming
    issued_ms: list[int] = field(default_factory=list)

    @classmethod
    def draw(
        cls, actions: tuple[str, ...], timing: FallbackTiming, started_at: float, rng: random.Random
    ) -> FallbackPlan:
        marks = [rng.randint(*timing.lead_ms)]
        for _ in range(max(1, len(actions))):
            marks.append(marks[-1] + rng.randint(*timing.gap_ms))
        if not actions:  # passive only: record for a lead and one gap
            marks = marks[1:]
        return cls(actions, started_at, tuple(marks), timing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the session store: whichever node serves the next step reads the plan from there."""
        return {
            "actions": list(self.actions),
            "started_at": self.started_at,
            "marks_ms": list(self.marks_ms),
            "timing": asdict(self.timing),
            "issued_ms": list(self.issued_ms),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FallbackPlan:
        t = data["timing"]
        timing = FallbackTiming(
            tuple(t["lead_ms"]),
            tuple(t["gap_ms"]),
            int(t["early_ms"]),
            int(t["min_reaction_ms"]),
            int(t["upload_margin_ms"]),
            int(t["timeline_slack_ms"]),
        )  # type: ignore[arg-type]
        return cls(
            tuple(data["actions"]),
            float(data["started_at"]),
            tuple(data["marks_ms"]),
            timing,
            [int(x) for x in data["issued_ms"]],
        )

    # -- clock ---------------------------------------------------------------------------------------------------

    def elapsed_ms(self, now: float) -> int:
        return int(round((now - self.started_at) * 1000))

    @property
    def end_ms(self) -> int:
        return self.marks_ms[-1]

    @property
    def upload_by_ms(self) -> int:
        return self.end_ms + self.timing.upload_margin_ms

    @property
    def all_issued(self) -> bool:
        return len(self.issued_ms) >= len(self.actions)

    # -- the client's steps --------------------------------------------------------------------------------------

    def describe(self, now: float) -> dict[str, object]:
        """What the client may know now: how many prompts, when to ask for the next, and (once every prompt was
        issued) when to stop recording and by when to upload. Never an action it has not been prompted for."""
        elapsed = self.elapsed_ms(now)
        out: dict[str, object] = {
            "total": len(self.actions),
            "issued": len(self.issued_ms),
            "elapsed_ms": elapsed,
            "next_prompt_ms": None if self.all_issued else self.marks_ms[len(self.issued_ms)],
            "stop_at_ms": None,
            "upload_by_ms": None,
        }
        if self.all_issued:
            out["stop_at_ms"], out["upload_by_ms"] = self.end_ms, self.upload_by_ms
        return out

    def issue(self, now: float) -> FallbackPrompt:
        """The next prompt, recorded with the server's time. Refused before it is due (minus `early_ms`)."""
        index = len(self.issued_ms)
        if index >= len(self.actions):
            raise SessionError(FallbackCode.NO_MORE_PROMPTS, "Every prompt was issued; stop recording and upload.", 409)
        elapsed = self.elapsed_ms(now)
        due = self.marks_ms[index]
        if elapsed < due - self.timing.early_ms:
            wait_s = (due - elapsed) / 1000
            raise SessionError(
                FallbackCode.PROMPT_NOT_DUE,
                f"The next prompt is due in {wait_s:.1f} s.",
                409,
                retry_after_s=max(1, math.ceil(wait_s)),
            )
        self.issued_ms.append(elapsed)
        return FallbackPrompt(self.actions[index], index, len(self.actions), elapsed, self.marks_ms[index + 1])

    # -- judging the upload --------------------------------------------------------------------------------------

    def windows_ms(self) -> tuple[tuple[int, int], ...]:
        """Action i must start inside [issued_i + min_reaction, next prompt due] of the clip (clip time = server
        time since start). A prompt never issued, or issued after its window closed, cannot be passed."""
        out = []
        for index in range(len(self.actions)):
            if index >= len(self.issued_ms):
                out.append(UNREACHABLE_WINDOW_MS)
                continue
            start, end = self.issued_ms[index] + self.timing.min_reaction_ms, self.marks_ms[index + 1]
            out.append((start, end) if start < end else UNREACHABLE_WINDOW_MS)
        return tuple(out)

    def probes(self) -> tuple[tuple[str, tuple[int, int]], ...]:
        """(action, window) pairs that must NOT be found: any of PROBED_BEFORE_PROMPT between the recording's
        start and the first prompt's issue (none when nothing was prompted)."""
        if not self.issued_ms or self.issued_ms[0] <= 0:
            return ()
        return tuple((action, (0, self.issued_ms[0])) for action in PROBED_BEFORE_PROMPT)

    def check_deadline(self, now: float) -> None:
        if self.elapsed_ms(now) > self.upload_by_ms:
            raise SessionError(
                FallbackCode.DEADLINE_PASSED,
                "The recording arrived after the schedule's deadline; start a new check.",
                410,
            )

    def fits_timeline(self, duration_s: float, received: float) -> bool:
        """A clip longer than the time since the recording started (plus slack for the start request's trip)
        was not recorded during this session."""
        return duration_s * 1000 <= self.elapsed_ms(received) + self.timing.timeline_slack_ms
