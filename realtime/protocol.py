"""Data-channel messages of the live check protocol (docs/protocol.md), version 1.

Server -> client messages never carry a score: the client only learns what to do next and the final status.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import ClassVar

from scoring import safe_json

PROTOCOL_VERSION = 1
CHANNEL_LABEL = "livecheck"
MAX_MESSAGE_BYTES = 4096  # client messages are tiny; anything bigger is ignored

# Phases (`state` messages).
WAITING = "waiting"
POSITIONING = "positioning"
CHALLENGE = "challenge"
DECIDING = "deciding"
DONE = "done"

# Feedback codes.
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
TURN_BACK = "turn_back"
LOOK_STRAIGHT = "look_straight"
FEEDBACK_CODES = (
    OK, NO_FACE, MULTIPLE_FACES, FACE_TOO_FAR, FACE_TOO_CLOSE, MOVE_INTO_OVAL, TOO_DARK, TOO_BRIGHT, HOLD_STILL,
    TOO_SLOW, TURN_BACK, LOOK_STRAIGHT,
)

# Client message types.
READY = "ready"
CANCEL = "cancel"


@dataclass(frozen=True)
class ServerMessage:
    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, object]:
        return {"v": PROTOCOL_VERSION, "type": self.type, **asdict(self)}

    def encode(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(frozen=True)
class State(ServerMessage):
    type: ClassVar[str] = "state"
    state: str


@dataclass(frozen=True)
class Feedback(ServerMessage):
    type: ClassVar[str] = "feedback"
    code: str


@dataclass(frozen=True)
class Prompt(ServerMessage):
    type: ClassVar[str] = "prompt"
    action: str
    index: int
    total: int
    deadline_ms: int  # time the user has for this action, from now


@dataclass(frozen=True)
class Progress(ServerMessage):
    type: ClassVar[str] = "progress"
    completed: int
    total: int


@dataclass(frozen=True)
class Result(ServerMessage):
    type: ClassVar[str] = "result"
    status: str  # SUCCEEDED | FAILED


@dataclass(frozen=True)
class Error(ServerMessage):
    type: ClassVar[str] = "error"
    code: str


@dataclass(frozen=True)
class ClientMessage:
    type: str


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
    if kind not in (READY, CANCEL):
        return None
    return ClientMessage(kind)


def decode_server(raw: str | bytes) -> dict[str, object]:
    """For clients written in Python (tests, the benchmark): the message as a dict."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("v") != PROTOCOL_VERSION:
        raise ValueError(f"not a v{PROTOCOL_VERSION} message: {raw!r}")
    return data
