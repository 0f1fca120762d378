"""FindFace's `/etc/findface-liveness-api.ini`, read as it is: `key: value` lines, nested by indentation.

So `livecheck serve --config /etc/findface-liveness-api.ini` works unchanged. What maps: every top-level key
livecheck shares with FindFace (`liveness-threshold`, `fullframe-jpeg-quality`, `max-decoded-frames`,
`min-selected-frames`, `mf-selector`, `extraction-api -> request-batch-size`, `limits -> video-*`) and `listen`
(`:18301` means every interface, as in FindFace). What FindFace needs and livecheck has not (the extraction and
sf-api services' URLs, their `timeouts`) is dropped with one warning each, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[A-Za-z0-9_.-]+)[ \t]*:(?:[ \t]+(?P<value>.*?))?[ \t]*$")
UNUSED_TABLES = ("sf-api", "sf_api", "timeouts")  # FindFace's links to its other services
KEPT_IN_EXTRACTION_API = ("request-batch-size", "request_batch_size")
ALL_INTERFACES = "0.0.0.0"


@dataclass
class IniConfig:
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def looks_like_ini(text: str) -> bool:
    """Every line that is not blank or a comment is `key:` or `key: value` (TOML would have `=` or `[table]`)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(_LINE.match(ln) for ln in lines)


def _scalar(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text  # typed later by the config loader (int, float, bool, list) with its own error messages


def parse(text: str, source: str = "config") -> IniConfig:
    """Nested dict of strings; raises ValueError naming the first line that is not `key: value`."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{source}:{number}: expected 'key: value', got {line.strip()!r}")
        indent = len(match["indent"].expandtabs(4))
        while stack[-1][0] >= indent:  # the nearest open table indented less than this line owns it
            stack.pop()
        table = stack[-1][1]
        value = match["value"]
        if value is None or value == "":
            child: dict[str, Any] = {}
            table[match["key"]] = child
            stack.append((indent, child))
        else:
            table[match["key"]] = _scalar(value)
    return _adapt(root)


def _adapt(root: dict[str, Any]) -> IniConfig:
    out = IniConfig({})
    for key, value in root.items():
        name = key.replace("_", "-")
        if name in UNUSED_TABLES:
            out.warnings.append(f"{key}: FindFace's link to another service; livecheck has no use for it (ignored)")
        elif name == "extraction-api" and isinstance(value, dict):
            kept = {}
            for sub_key, sub_value in value.items():
                if sub_key in KEPT_IN_EXTRACTION_API:
                    kept[sub_key] = sub_value
                else:
                    out.warnings.append(
                        f"{key}.{sub_key}: FindFace's extraction service setting; livecheck runs its "
                        "models in-process (ignored)"
                    )
            if kept:
                out.data[key] = kept
        elif name == "extraction-api":
            out.warnings.append(
                f"{key}: FindFace's extraction service URL; livecheck runs its models in-process (ignored)"
            )
        elif name == "liveness-threshold":
            out.data[key] = value
            out.warnings.append(
                f"{key}: {value} is the anti-spoof threshold of stills here; clips are decided by livecheck's "
                "calibrated score, whose average_liveness is on FindFace's scale: 0.95 is where it accepts "
                "(docs/api.md 'Defaults that differ')"
            )
        elif name == "listen" and isinstance(value, str) and value.startswith(":"):
            out.data[key] = ALL_INTERFACES + value  # Go's ":18301": every interface
        else:
            out.data[key] = value
    return out
