"""JSON from untrusted clients: strict UTF-8, bounded size and nesting, no NaN/Infinity, no lone surrogates.

`json.loads` alone recurses once per nesting level (a body of 100,000 '[' raises RecursionError), guesses
UTF-16/32 from the first bytes of a bytes object, accepts NaN and Infinity, and returns strings holding lone
surrogates that fail later when echoed back or encoded. Every JSON body and data-channel message goes through
`loads` here instead, which turns each of those into a `JsonError` (a ValueError) the caller answers with 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # the deepest structure any livecheck message has is 3 levels
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonError(ValueError):
    """The text is not acceptable JSON; the message says why, for a person."""


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number.")


def _check(value: Any, max_depth: int) -> None:
    """Nesting depth and lone surrogates (from \\ud800-style escapes) in keys and strings, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):  # isascii() is O(1) in CPython
                raise JsonError("A string holds an unpaired UTF-16 surrogate.")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise JsonError(f"The JSON text is nested deeper than {max_depth} levels.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> Any:
    """The decoded value; raises JsonError for anything but strict, bounded JSON."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise JsonError(f"The JSON text is larger than {max_bytes} bytes.")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonError("The JSON text is not valid UTF-8.") from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except JsonError:
        raise
    except RecursionError:  # the C scanner's own guard, long before the stack is at risk
        raise JsonError(f"The JSON text is nested deeper than {max_depth} levels.") from None
    except ValueError as exc:
        raise JsonError(f"The body is not valid JSON: {exc}.") from None
    _check(value, max_depth)
    return value
