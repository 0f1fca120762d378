"""Shared vocabulary of session results and tenants: how a session was judged and how much that is worth."""

from __future__ import annotations

from enum import StrEnum


class SessionMode(StrEnum):
    """How the face was watched: a live WebRTC stream, or an uploaded recording (the fallback)."""

    LIVE = "live"
    RECORDING = "recording"


class Assurance(StrEnum):
    """What a passed check is worth. A live check sees every frame as it happens and times each prompt on the
    server; a recording is judged after the fact, so an edited clip timed to the prompts cannot be ruled out."""

    HIGH = "high"
    LOW = "low"


ASSURANCE: dict[SessionMode, Assurance] = {SessionMode.LIVE: Assurance.HIGH, SessionMode.RECORDING: Assurance.LOW}


class Tenant(StrEnum):
    """Who created a session: an integrator with an API key, or the keyless demo page (its own quota)."""

    INTEGRATOR = "integrator"
    DEMO = "demo"
