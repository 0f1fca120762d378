"""What docs/protocol.md tells a client the server sends: message types, phases, feedback codes and actions, read
from its tables, so that tests compare both the enums and the messages of a real check with the document."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.paths import ROOT


@dataclass(frozen=True)
class ServerVocabulary:
    types: list[str]  # the `type` of each server -> client message
    client_types: list[str]
    phases: list[str]  # the values of a `state` message
    feedback: list[str]
    actions: list[str]


def server_vocabulary() -> ServerVocabulary:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    server = text[text.index("### Server -> client") : text.index("## Rules the server enforces")]
    client = text[text.index("### Client -> server") : text.index("### Server -> client")]
    state_row = next(line for line in server.splitlines() if line.startswith("| `state`"))
    feedback = server[server.index("Feedback codes:") : server.index("Defined once")]
    return ServerVocabulary(
        types=re.findall(r"^\| `(\w+)` \|", server, re.M),
        client_types=re.findall(r"^\| `(\w+)` \|", client, re.M),
        phases=re.findall(r"`(\w+)`", state_row)[2:],
        feedback=re.findall(r"`(\w+)`", re.sub(r"\([^()]*\)", "", feedback)),
        actions=re.findall(r"`(\w+)`", server[server.index("Actions:") :].splitlines()[0]),
    )
