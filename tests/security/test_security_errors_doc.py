"""docs/errors.md names every stable error code with its HTTP status: each member of the web layer's, the
sessions' and the recording fallback's code enums (and scoring's input codes) has a table row whose last cell is
its status, and every code a row names is a real one (no stale documentation). Unit tier: no models, no server."""

from __future__ import annotations

import re

from realtime.errors import SessionCode
from realtime.fallback import FallbackCode
from scoring.errors import InputCode
from tests.support.paths import ROOT
from webapp.api_findface import METHOD_NOT_ALLOWED
from webapp.errors import ApiCode

DOC = ROOT / "docs" / "errors.md"
ROW = re.compile(r"^\| (`[a-z_]+`(?: / `[a-z_]+`)*) \| (.+) \| ([^|]+) \|$", re.M)
STATUS = re.compile(r"^(?:\d{3}|\dxx|-)(?:(?: \+ `Retry-After`)|(?:; \d{3}))*$")
FAILURE_REASONS_ONLY = {FallbackCode.TIMELINE, FallbackCode.MOVED_BEFORE_PROMPT}  # decided, never answered


def documented() -> dict[str, str]:
    """code -> the status cell of its row in docs/errors.md's tables."""
    rows: dict[str, str] = {}
    for names, _, status in ROW.findall(DOC.read_text()):
        for name in re.findall(r"`([a-z_]+)`", names):
            rows[name] = status.strip()
    return rows


def test_every_error_code_has_a_row_with_its_status() -> None:
    rows = documented()
    codes = [*ApiCode, *SessionCode, *FallbackCode, *InputCode, METHOD_NOT_ALLOWED]
    missing = sorted(str(c) for c in codes if str(c) not in rows)
    assert not missing, f"docs/errors.md has no row for {missing}"
    bad = {code: status for code, status in rows.items() if not STATUS.match(status)}
    assert not bad, f"status cells that are not an HTTP status: {bad}"
    answered_without_status = sorted(
        str(c) for c in [*SessionCode, *FallbackCode] if rows[str(c)] == "-" and c not in FAILURE_REASONS_ONLY
    )
    assert not answered_without_status, answered_without_status


def test_every_documented_code_exists() -> None:
    real = {str(c) for c in [*ApiCode, *SessionCode, *FallbackCode, *InputCode]} | {METHOD_NOT_ALLOWED}
    stale = sorted(set(documented()) - real)
    assert not stale, f"docs/errors.md documents codes nothing answers: {stale}"


def test_the_statuses_documented_are_the_ones_answered() -> None:
    """Where the code says the status in one place (webapp.errors.STATUS_BY_CODE), the table agrees."""
    from webapp.errors import STATUS_BY_CODE

    rows = documented()
    wrong = {
        str(code): (status, rows[str(code)])
        for code, status in STATUS_BY_CODE.items()
        if not rows[str(code)].startswith(str(status))
    }
    assert not wrong, f"code: (answered, documented) {wrong}"
