"""Data-channel messages of the live check protocol (docs/protocol.md), version 1.

Server -> client messages never carry a score: the client only learns what to do next and the final status.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import ClassVar

from realtime.status import SessionStatus
from scoring import safe_json
from scoring.actions import Action

PROTOCOL_VERSION = 1
CHANNEL_LABEL = "livecheck"
MAX_MESSAGE_BYTES = 4096  # client messages are tiny; anything bigger is ignored


class Phase(StrEnum):
    """The phase a `state` message announces, in the order a session goes through them."""

    WAITING = "waiting"  # connected, the client has not sent `ready` yet
    POSITIONING = "positioning"
    LIGHT = "light"  # the light challenge (sessions created with light: true), after positioning
    CHALLENGE = "challenge"
    DECIDING = "deciding"
    DONE = "done"


class FeedbackCode(StrEnum):
    """Every code a `feedback` message carries: what the user should fix now (the widget shows a hint for each)."""

    OK = "ok"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_FAR = "face_too_far"
    FACE_TOO_CLOSE = "face_too_close"
    MOVE_INTO_OVAL = "move_into_oval"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    HOLD_STILL = "hold_still"
    TOO_SLOW = "too_slow"
    LOOK_STRAIGHT = "look_straight"


class MessageType(StrEnum):
    """The `type` of every message, server -> client and client -> server."""

    # server -> client
    STATE = "state"
    FEEDBACK = "feedback"
    PROMPT = "prompt"
    PROGRESS = "progress"
    LIGHT = "light"
    RESULT = "result"
    # client -> server
    READY = "ready"
    CANCEL = "cancel"
    NO_LIGHT = "no_light"


CLIENT_TYPES = frozenset({MessageType.READY, MessageType.CANCEL, MessageType.NO_LIGHT})
LIGHT_OFF = "off"  # a `light` message's colour once the sequence is over: take the overlay away


@dataclass(frozen=True)
class ServerMessage:
    type: ClassVar[MessageType]

    def to_dict(self) -> dict[str, object]:
        return {"v": PROTOCOL_VERSION, "type": self.type, **asdict(self)}

    def encode(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(frozen=True)
class State(ServerMessage):
    type: ClassVar[MessageType] = MessageType.STATE
    state: Phase


@dataclass(frozen=True)
class Feedback(ServerMessage):
    type: ClassVar[MessageType] = MessageType.FEEDBACK
    code: FeedbackCode


@dataclass(frozen=True)
class Prompt(ServerMessage):
    type: ClassVar[MessageType] = MessageType.PROMPT
    action: Action
    index: int
    total: int
    deadline_ms: int  # time the user has for this action, from now


@dataclass(frozen=True)
class Progress(ServerMessage):
    type: ClassVar[MessageType] = MessageType.PROGRESS
    completed: int
    total: int


@dataclass(frozen=True)
class Light(ServerMessage):
    """Show `color` full screen from now until the next `light` message (`off` after the last one). Sent at the
    moment it is due on the server's clock, one colour at a time: the sequence is never revealed in advance."""

    type: ClassVar[MessageType] = MessageType.LIGHT
    color: str  # a scoring.light.LightColor, or LIGHT_OFF
    index: int  # 0-based; == total with LIGHT_OFF
    total: int


@dataclass(frozen=True)
class Result(ServerMessage):
    type: ClassVar[MessageType] = MessageType.RESULT
    status: SessionStatus  # SUCCEEDED | FAILED


@dataclass(frozen=True)
class ClientMessage:
    type: MessageType


def decode_client(raw: str | bytes) -> ClientMessage | None:
    """A client message, or None for anything that is not a v1 message we know (ignored, per the protocol)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = safe_json.loads(raw)
    except safe_json.JsonError:
        return None
    if not isinstance(data, dict) or data.get("v") != PROTOCOL_VERSION:
        return None
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:  # a list or dict is unhashable: not a set lookup
        return None
    return ClientMessage(MessageType(kind))


def decode_server(raw: str | bytes) -> dict[str, object]:
    """For clients written in Python (tests, the benchmark): the message as a dict."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("v") != PROTOCOL_VERSION:
        raise ValueError(f"not a v{PROTOCOL_VERSION} message: {raw!r}")
    return data
