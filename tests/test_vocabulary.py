"""One vocabulary, checked where it is repeated: the OpenAPI document's enums are the Python enums, docs/protocol.md
lists exactly the messages, phases and feedback codes the server sends, docs/api.md names every config key, and a
client message whose type is not a string is ignored (not a crash of the data-channel handler)."""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import StrEnum
from typing import Any

import pytest

from realtime import protocol
from realtime.errors import SessionCode
from realtime.fallback import FallbackCode
from realtime.modes import Assurance, SessionMode
from realtime.protocol import FeedbackCode, MessageType, Phase
from realtime.reasons import LiveReason
from realtime.status import SessionStatus
from scoring.actions import ACTIONS, Action
from scoring.errors import InputCode
from scoring.reasons import Reason
from scoring.settings import FaceSelector
from tests.support.paths import ROOT
from tests.support.protocol_doc import server_vocabulary
from webapp.api_findface import METHOD_NOT_ALLOWED
from webapp.api_huawei import ACTION_CODES, FRS_TABLE, WARNING_CODES, Frs
from webapp.api_huawei import ERROR_CODES as HUAWEI_ERRORS
from webapp.api_silent import SYSTEM_CODES, LivenessStatus
from webapp.config import ServiceConfig
from webapp.errors import ApiCode
from webapp.openapi import document

pytestmark = pytest.mark.unit

DOCS = ROOT / "docs"


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def schema(path: str, method: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"
    ]
    return found


# What integrators have been told they receive, written out by hand: renaming or dropping one breaks their code, so
# it must fail here (a comparison of the enums with themselves cannot). Adding one is a documented change.
PUBLISHED: dict[type[StrEnum], list[str]] = {
    Action: ["turn_left", "turn_right", "nod", "blink", "open_mouth", "smile"],
    SessionStatus: ["CREATED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "EXPIRED"],
    Reason: [
        "no_face",
        "multiple_faces",
        "short_time",
        "static_video",
        "flat_face",
        "face_changed",
        "low_liveness",
        "actions_failed",
        "too_few_frames",
        "reference_no_face",
        "face_mismatch",
        "looped_video",
        "light_mismatch",
        "too_bright",
    ],  # fmt: skip
    LiveReason: [
        "timeout",
        "cancelled",
        "disconnected",
        "stream_ended",
        "positioning_failed",
        "node_lost",
        "server_shutdown",
        "internal_error",
    ],  # fmt: skip
}


@pytest.mark.parametrize("enum", list(PUBLISHED), ids=lambda e: e.__name__)
def test_the_published_vocabularies_are_what_integrators_were_told(enum: type[StrEnum]) -> None:
    assert values(enum) == PUBLISHED[enum]


def test_every_action_can_be_drawn_and_has_a_huawei_code() -> None:
    assert sorted(ACTIONS) == sorted(PUBLISHED[Action]) and all(isinstance(a, Action) for a in ACTIONS)
    assert sorted(ACTION_CODES.values()) == sorted(PUBLISHED[Action]), "every action a Huawei code, none spare"


def test_openapi_statuses_actions_and_reasons_are_the_enums() -> None:
    session = schema("/v1/sessions/{session_id}", "get", "200")
    assert session["properties"]["status"]["enum"] == values(SessionStatus)
    result = session["properties"]["result"]["properties"]
    assert result["actions"]["items"]["properties"]["action"]["enum"] == values(Action)
    assert set(result["reasons"]["items"]["enum"]) == {
        *values(Reason),
        *values(LiveReason),
        *values(FallbackCode),
        *values(InputCode),
        SessionCode.INVALID_OFFER,
    }
    assert result["mode"]["enum"] == values(SessionMode) and result["assurance"]["enum"] == values(Assurance)
    selector = next(p for p in document()["paths"]["/v1/analyze"]["post"]["parameters"] if p["name"] == "mf_selector")
    assert selector["schema"]["enum"] == values(FaceSelector)
    verdict = schema("/v1/analyze", "post", "200")["properties"]
    assert verdict["reasons"]["items"]["enum"] == values(Reason)
    assert verdict["actions"]["items"]["properties"]["action"]["enum"] == values(Action)
    created = schema("/v1/sessions", "post", "201")
    assert created["properties"]["status"]["enum"] == values(SessionStatus)
    prompt = schema("/v1/sessions/{session_id}/fallback/next", "post", "200")
    assert prompt["properties"]["action"]["enum"] == values(Action)


def test_openapi_error_codes_are_the_enums() -> None:
    native = schema("/v1/analyze", "post", "400")["properties"]["error"]["properties"]["code"]["enum"]
    expected = {
        *values(InputCode),
        *values(ApiCode),
        *values(SessionCode),
        *values(FallbackCode),
        Reason.REFERENCE_NO_FACE.value,
    }
    assert set(native) == expected and len(native) == len(expected)
    assert (
        schema("/v1/sessions/{session_id}", "get", "404")["properties"]["error"]["properties"]["code"]["enum"] == native
    )
    findface = schema("/v1/video-liveness", "post", "400")["properties"]["code"]["enum"]
    assert set(findface) == {c.upper() for c in [*values(InputCode), *values(ApiCode), METHOD_NOT_ALLOWED]}
    huawei = schema("/v2/{project_id}/live-detect", "post", "400")["properties"]["error_code"]["enum"]
    assert huawei == values(Frs) and set(FRS_TABLE) == set(Frs)
    assert {frs for frs, _ in HUAWEI_ERRORS.values()} <= set(Frs)
    silent = schema("/identity/silent_image_verification/stateless", "post", "400")["properties"]["code"]["enum"]
    assert set(silent) == {1200} | {code for code, _, _ in SYSTEM_CODES.values()}


def test_every_code_and_reason_is_documented() -> None:
    text = "".join((DOCS / name).read_text() for name in ("errors.md", "protocol.md", "verdict.md", "api.md"))
    codes = document()["components"]["schemas"]
    missing = sorted({c for c in [*codes["ErrorCode"]["enum"], *codes["Reason"]["enum"]] if f"`{c}`" not in text})
    assert not missing, f"no docs/*.md names {missing}"


def test_openapi_compatible_api_vocabularies_are_theirs() -> None:
    huawei = schema("/v2/{project_id}/live-detect", "post", "200")["properties"]
    action = huawei["video-result"]["properties"]["actions"]["items"]["properties"]["action"]
    assert action["enum"] == list(ACTION_CODES)
    warning = huawei["warning-list"]["items"]["properties"]
    assert warning["warningCode"]["enum"] == list(WARNING_CODES.values())
    assert warning["warningMsg"]["enum"] == [str(r) for r in WARNING_CODES]
    silent = schema("/identity/silent_image_verification/stateless", "post", "200")["properties"]
    assert silent["liveness_status"]["enum"] == values(LivenessStatus)


def test_openapi_describes_the_data_channel_from_the_enums() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["Phase"]["enum"] == values(Phase)
    assert schemas["FeedbackCode"]["enum"] == values(FeedbackCode)
    assert schemas["ChannelMessageType"]["enum"] == values(MessageType)
    assert schemas["ChannelMessage"]["properties"]["v"]["const"] == protocol.PROTOCOL_VERSION


def test_protocol_doc_lists_what_the_server_sends() -> None:
    doc = server_vocabulary()
    sent = {cls.type for cls in protocol.ServerMessage.__subclasses__()}
    assert set(doc.types) == {str(t) for t in sent}
    assert set(doc.client_types) == {str(t) for t in protocol.CLIENT_TYPES}
    assert sent | protocol.CLIENT_TYPES == set(MessageType), "every message type is sent by one side"
    assert doc.phases == values(Phase)
    assert doc.feedback == values(FeedbackCode)
    assert doc.actions == values(Action)


def test_a_client_message_of_an_unhashable_type_is_ignored() -> None:
    for raw in ('{"v":1,"type":["ready"]}', '{"v":1,"type":{"a":1}}', '{"v":1,"type":1}', '{"v":1,"type":"error"}'):
        assert protocol.decode_client(raw) is None
    ready = protocol.decode_client('{"v":1,"type":"ready"}')
    assert ready is not None and ready.type is MessageType.READY


def _toml_keys(cls: type, section: str = "") -> list[tuple[str, str]]:
    hints = typing.get_type_hints(cls)
    keys: list[tuple[str, str]] = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        name = field.name.replace("_", "-")
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            keys += _toml_keys(hint, name)
        else:
            keys.append((section, name))
    return keys


def test_api_doc_names_every_config_key() -> None:
    text = (DOCS / "api.md").read_text()
    part = text[text.index("## Config keys") : text.index("## Metrics")]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", part, re.M))
    keys = _toml_keys(ServiceConfig)
    assert len(keys) > 100  # the walk reached the nested sections
    missing = sorted(f"{section or 'top'}: {key}" for section, key in keys if key not in documented)
    assert not missing, f"docs/api.md 'Config keys' lacks {missing}"
