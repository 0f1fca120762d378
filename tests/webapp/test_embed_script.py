"""The server's /embed.js is the npm package's module (clients/js/src/livecheck.js) wrapped as a classic script,
exactly as clients/js/scripts/embed.mjs builds it: one host API, not two that drift. No Node needed here."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.unit

SOURCE = ROOT / "clients" / "js" / "src" / "livecheck.js"
TARGET = ROOT / "frontend" / "static" / "embed.js"
EXPORTS = re.compile(r"^export \{([^}]*)\};\n\Z", re.M)


def classic_script(source: str) -> str:
    """The same transformation as embed.mjs's classicScript()."""
    match = EXPORTS.search(source)
    assert match, "livecheck.js must end with one `export { ... };` line"
    names = [name.strip() for name in match[1].split(",") if name.strip()]
    return (
        "/* GENERATED from clients/js/src/livecheck.js by clients/js/scripts/embed.mjs: edit that file, then run\n"
        ' * `npm run build:embed` in clients/js. Load it with <script src=".../embed.js"> and use window.LiveCheck. */\n'
        "(function () {\n'use strict';\n"
        + source[: match.start()]
        + "window.LiveCheck = Object.freeze({ "
        + ", ".join(f"{n}: {n}" for n in names)
        + " });\n})();\n"
    )


def test_embed_js_is_the_package_module_wrapped() -> None:
    assert TARGET.read_text(encoding="utf-8") == classic_script(SOURCE.read_text(encoding="utf-8")), (
        "frontend/static/embed.js is stale: run `npm run build:embed` in clients/js"
    )


def test_the_module_has_no_imports_so_it_can_run_as_a_plain_script() -> None:
    source = SOURCE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*import\b", source, re.M)
    assert len(re.findall(r"^export\b", source, re.M)) == 1
