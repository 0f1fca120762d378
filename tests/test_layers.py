"""The package layering of docs/architecture.md, checked on the source: webapp -> realtime -> scoring -> models,
evaluation beside webapp (the CLI imports both, neither imports it back), no import cycle between modules, and
imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "scoring", "realtime", "webapp", "evaluation", "frontend")
# What each package may import from the project (anything else is a layering break).
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "scoring": {"models"},
    "realtime": {"scoring"},  # models only through scoring (ModelSet, the engine)
    "evaluation": {"scoring", "realtime", "models"},
    "webapp": {"realtime", "scoring", "models", "evaluation", "frontend"},
    "frontend": set(),
}
# Pure computation: no web server, no WebRTC.
WEB_LIBRARIES = ("quart", "hypercorn", "aiortc", "aioice", "werkzeug")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (absolute names; `from x import y` gives
    both x and x.y, since y may be a module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {t for t in _imports(name, path) if t in modules and t != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_packages_import_only_downwards() -> None:
    breaks = []
    for name, targets in _graph().items():
        package = name.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                breaks.append(f"{name} -> {target}")
    assert breaks == []


@pytest.mark.parametrize("package", ["models", "scoring", "evaluation"])
def test_no_web_libraries_below_webapp(package: str) -> None:
    """scoring stays numpy in, dataclasses out; evaluation talks to the service only as a client."""
    offenders = []
    for name, path in _modules().items():
        if name.split(".")[0] != package:
            continue
        for imported in _imports(name, path):
            if imported.split(".")[0] in WEB_LIBRARIES:
                offenders.append(f"{name} -> {imported}")
    assert offenders == []


def test_every_blueprint_module_is_registered() -> None:
    """Blueprints are listed explicitly in webapp.app (no feature silently dropped on an import error)."""
    from webapp.app import BLUEPRINTS

    registered = {bp.import_name for bp in BLUEPRINTS}
    declared = {
        name
        for name, path in _modules().items()
        if name.startswith("webapp.") and "blueprint = Blueprint(" in path.read_text(encoding="utf-8")
    }
    assert declared == registered


# The calls that turn an exception into a response (Quart's and Flask's names).
HANDLER_CALLS = frozenset({"errorhandler", "register_error_handler", "app_errorhandler"})


def _handler_registrations(source: str) -> list[int]:
    """Lines where the source registers an error handler (a call or a decorator naming one of HANDLER_CALLS)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in HANDLER_CALLS
    ]


def test_failures_become_responses_in_one_module() -> None:
    """webapp/errors.py holds every error handler (issue 24): route modules raise, adapters ask it for their shape
    (errors.install / install_handler), so no other module of the project registers one."""
    found = {
        name: lines
        for name, path in _modules().items()
        if name != "webapp.errors" and (lines := _handler_registrations(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    assert _handler_registrations((ROOT / "webapp" / "errors.py").read_text(encoding="utf-8"))


def test_handler_finder_finds_handlers() -> None:
    source = "@bp.errorhandler(KeyError)\nasync def h(e): ...\nfor k in KINDS:\n    bp.register_error_handler(k, h)\n"
    assert _handler_registrations(source) == [1, 4]
    assert _handler_registrations("bp.route('/x')\nerrors.install(bp)\n") == []
