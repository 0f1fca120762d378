"""The widget's vocabulary (frontend/static/widget/constants.js) is the server's, value for value; the other modules
use it instead of spelling the values; every feedback code, action and error screen has its strings in every
language the widget ships; the module graph resolves. No browser needed: the sources are read as text."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path

import pytest

from realtime import protocol
from realtime.fallback import FallbackCode
from realtime.protocol import FeedbackCode, MessageType, Phase
from realtime.status import SessionStatus
from scoring.actions import Action
from scoring.light import LightColor
from tests.support.paths import ROOT
from webapp import widget

pytestmark = pytest.mark.unit

FRONTEND = Path(widget.FRONTEND)
MODULES = FRONTEND / "static" / "widget"
CONSTANTS = MODULES / "constants.js"
# Modules that must use the constants (the embed script is a classic script loaded cross-origin: checked apart).
USERS = sorted(p for p in MODULES.glob("*.js") if p != CONSTANTS) + [FRONTEND / "static" / "demo.js"]

MIRRORS: dict[str, type[StrEnum]] = {
    "SessionStatus": SessionStatus,
    "Phase": Phase,
    "FeedbackCode": FeedbackCode,
    "Action": Action,
    "MessageType": MessageType,
    "FallbackCode": FallbackCode,
    "LightColor": LightColor,
}
WIDGET_OWN = ("Screen", "ErrorScreen", "EmbedMessage", "HostMessage", "Theme", "Layout")
SCALARS = {
    "PROTOCOL_VERSION": protocol.PROTOCOL_VERSION,
    "CHANNEL_LABEL": protocol.CHANNEL_LABEL,
    "MAX_MESSAGE_BYTES": protocol.MAX_MESSAGE_BYTES,
    "LIGHT_OFF": protocol.LIGHT_OFF,
}

FROZEN = re.compile(r"^export const (\w+) = Object\.freeze\(\{\n(.*?)\n\}\);$", re.S | re.M)
ENTRY = re.compile(r"^\s*([A-Z][A-Z0-9_]*): '([^'\\]*)',$")
SCALAR = re.compile(r"^export const (\w+) = (\d+|'[^'\\]*');$", re.M)

Sets = dict[str, dict[str, str]]  # set name -> {member: value}
Parsed = tuple[Sets, dict[str, int | str]]
Catalogs = dict[str, dict[str, str]]  # language -> {key: string}


def parse_constants(text: str) -> Parsed:
    """Every `export const X = Object.freeze({...})` as {member: value}, and every scalar export. Strict: a line it
    cannot read inside a block, or an export it does not understand, is an error, never silently skipped."""
    sets: Sets = {}
    for name, body in FROZEN.findall(text):
        members: dict[str, str] = {}
        for line in body.splitlines():
            match = ENTRY.match(line)
            assert match, f"constants.js, {name}: cannot read {line!r} (one `KEY: 'value',` per line)"
            assert match[1] not in members, f"{name}.{match[1]} twice"
            members[match[1]] = match[2]
        sets[name] = members
    scalars: dict[str, int | str] = {
        name: int(value) if value.isdigit() else value[1:-1] for name, value in SCALAR.findall(text)
    }
    exported = re.findall(r"^export (?:const|function|class|async function) (\w+)", text, re.M)
    unknown = set(exported) - set(sets) - set(scalars)
    assert not unknown, f"exports the parser does not read: {sorted(unknown)}"
    return sets, scalars


def string_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each quoted string (', ", or a template without ${}), comments skipped. Regular-expression
    literals are read as code, which is fine as long as none holds a quote (the widget's do not)."""
    out: list[tuple[int, str]] = []
    i, line, n = 0, 1, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.index("*/", i) + 2
            line += source.count("\n", i, end)
            i = end
        elif c in "'\"`":
            j, text = i + 1, []
            while source[j] != c:
                if source[j] == "\\":
                    text.append(source[j + 1])
                    j += 2
                    continue
                text.append(source[j])
                j += 1
            literal = "".join(text)
            if c != "`" or "${" not in literal:
                out.append((line, literal))
            line += literal.count("\n")
            i = j + 1
        else:
            line += c == "\n"
            i += 1
    return out


@pytest.fixture(scope="module")
def constants() -> Parsed:
    return parse_constants(CONSTANTS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((FRONTEND / "i18n").glob("*.json"))}


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_each_mirror_is_the_server_enum_exactly(name: str, constants: Parsed) -> None:
    sets, _ = constants
    assert name in sets, f"constants.js does not export {name}"
    js, py = sets[name], {m.name: m.value for m in MIRRORS[name]}
    assert set(py.items()) - set(js.items()) == set(), f"{name}: missing from or different in constants.js"
    assert set(js.items()) - set(py.items()) == set(), f"{name}: in constants.js but not on the server"


def test_protocol_scalars_match_and_nothing_is_exported_unchecked(constants: Parsed) -> None:
    sets, scalars = constants
    assert scalars == SCALARS
    assert set(sets) == set(MIRRORS) | set(WIDGET_OWN), "a new set: mirror it in MIRRORS or list it in WIDGET_OWN"


def test_the_parser_refuses_what_it_cannot_read() -> None:
    good = "export const A = Object.freeze({\n  X: 'x',\n});\nexport const N = 3;\n"
    assert parse_constants(good) == ({"A": {"X": "x"}}, {"N": 3})
    with pytest.raises(AssertionError, match="cannot read"):
        parse_constants("export const A = Object.freeze({\n  X: 'x', Y: 'y',\n});\n")
    with pytest.raises(AssertionError, match="does not read"):
        parse_constants("export const B = ['x'];\n")


def vocabulary(sets: Sets) -> dict[str, str]:
    """value -> `Set.MEMBER` that names it."""
    return {value: f"{name}.{member}" for name, members in sets.items() for member, value in members.items()}


def test_no_module_spells_a_value_that_has_a_constant(constants: Parsed) -> None:
    names = vocabulary(constants[0])
    found = [
        f"{path.relative_to(FRONTEND)}:{line}: '{text}' is {names[text]}"
        for path in USERS
        for line, text in string_literals(path.read_text(encoding="utf-8"))
        if text in names
    ]
    assert found == []


def test_the_scan_finds_a_spelled_value_and_skips_comments(constants: Parsed) -> None:
    names = vocabulary(constants[0])
    source = '// \'challenge\' in a comment\n/* "FAILED" */ if (x === \'challenge\') y(`SUCCEEDED`, "a\\"b");\n'
    assert [(line, text) for line, text in string_literals(source) if text in names] == [
        (2, "challenge"),
        (2, "SUCCEEDED"),
    ]
    assert (2, 'a"b') in string_literals(source)


def test_the_widget_modules_import_what_exists_and_the_page_loads_main_as_a_module() -> None:
    exports = {
        p.name: set(
            re.findall(r"^export (?:const|function|class|async function) (\w+)", p.read_text(encoding="utf-8"), re.M)
        )
        for p in MODULES.glob("*.js")
    }
    for path in USERS:
        for names, target in re.findall(
            r"^import \{([^}]*)\} from '\./(?:widget/)?([\w.]+)';$", path.read_text(encoding="utf-8"), re.M
        ):
            assert target in exports, f"{path.name} imports missing {target}"
            missing = {n.strip() for n in names.split(",")} - exports[target]
            assert not missing, f"{path.name}: {target} does not export {sorted(missing)}"
    page = (FRONTEND / "templates" / "widget.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="module" src="{{ static_url(\'widget/main.js\') }}">'], scripts
    assert "</script>" in page and not re.search(r"<script\b[^>]*>[^<]+</script>", page), "no inline script"
    preloaded = re.search(r"\{% for module in \[([^\]]*)\] %\}\s*<link rel=\"modulepreload\"", page)
    assert preloaded, "widget.html preloads the module graph"
    assert {m.strip(" '") + ".js" for m in preloaded[1].split(",")} | {"main.js"} == set(exports)
    csp = widget.widget_csp([])
    assert "script-src 'self';" in csp and "unsafe" not in csp


HOST_API = ROOT / "clients" / "js" / "src" / "livecheck.js"
# Messages the widget posts that the host API handles itself instead of passing on as events.
HOST_INTERNAL = {"height"}


def test_the_host_api_hears_every_message_the_widget_posts_and_knows_every_error(constants: Parsed) -> None:
    """clients/js (and the embed.js generated from it) has an event for each message and an error code for each
    error screen the widget can show."""
    source = HOST_API.read_text(encoding="utf-8")
    host: Sets = {}
    for name, body in re.findall(r"^const (\w+) = Object\.freeze\(\{\n(.*?)\n\}\);$", source, re.S | re.M):
        if name in ("LiveCheckEvent", "ErrorCode"):
            entries = [ENTRY.match(line) for line in body.splitlines()]
            host[name] = {m[1]: m[2] for m in entries if m}
    sets = constants[0]
    assert set(sets["EmbedMessage"].values()) - HOST_INTERNAL == set(host["LiveCheckEvent"].values())
    assert set(sets["ErrorScreen"].values()) <= set(host["ErrorCode"].values())
    assert all(f"'{value}'" in source for value in HOST_INTERNAL)


def test_the_server_names_page_problems_the_widget_shows(constants: Parsed) -> None:
    problems = set(re.findall(r'problem = "(\w+)"', Path(widget.__file__).read_text(encoding="utf-8")))
    assert problems and problems <= set(constants[0]["ErrorScreen"].values())


# -- strings -------------------------------------------------------------------------------------------------------


def test_the_widget_ships_a_catalog_for_each_of_its_languages(catalogs: Catalogs) -> None:
    assert set(catalogs) == set(widget.LANGUAGES)
    fallback = catalogs[widget.LANGUAGES[0]]
    for lang, strings in catalogs.items():
        assert set(strings) == set(fallback), f"{lang}: keys differ from {widget.LANGUAGES[0]}"
        assert strings["lang"] == lang
        assert all(isinstance(v, str) and v.strip() for v in strings.values()), f"{lang}: an empty string"


@pytest.mark.parametrize(
    "prefix, suffix, source",
    [
        ("feedback.", "", FeedbackCode),
        ("prompt.", "", Action),
        ("error.", ".heading", "ErrorScreen"),
        ("error.", ".body", "ErrorScreen"),
    ],
)
def test_every_code_has_its_string_in_every_language_and_no_stale_ones(
    prefix: str, suffix: str, source: type[StrEnum] | str, catalogs: Catalogs, constants: Parsed
) -> None:
    values = {m.value for m in source} if not isinstance(source, str) else set(constants[0][source].values())
    for lang, strings in catalogs.items():
        keyed = {k[len(prefix) : len(k) - len(suffix)] for k in strings if k.startswith(prefix) and k.endswith(suffix)}
        assert values - keyed == set(), f"{lang}: no string for {sorted(values - keyed)}"
        assert keyed - values == set(), f"{lang}: strings for codes that do not exist: {sorted(keyed - values)}"


def test_every_literal_string_key_the_modules_use_exists(catalogs: Catalogs) -> None:
    used = {key for path in USERS for key in re.findall(r"\bt\('([\w.]+)'[,)]", path.read_text(encoding="utf-8"))}
    assert len(used) > 20, "the scan found the widget's t('...') calls"
    for lang, strings in catalogs.items():
        assert used - set(strings) == set(), f"{lang}: missing {sorted(used - set(strings))}"


def test_every_action_has_its_cue_icon() -> None:
    page = (FRONTEND / "templates" / "widget.html").read_text(encoding="utf-8")
    assert {a.value for a in Action} <= set(re.findall(r'<symbol id="icon-(\w+)"', page))
