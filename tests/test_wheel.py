"""The package as a user installs it: the wheel built from this tree, installed (not editable) into a fresh venv,
runs `livecheck --help`, `livecheck models verify` and a `serve` that reaches /readyz and serves the widget's files.

A full `pip install -c requirements.lock <wheel>` needs PyPI (25 s with a warm cache, measured), which the test
tiers' loopback-only namespace does not have. So the fresh venv gets the locked dependencies from this venv's
site-packages (a path entry, none of its .pth hooks: the editable install's finder stays out) and the wheel itself
with `--no-deps --no-index`; the test checks that every installed version equals its pin in requirements.lock and
that `pip check` finds the wheel's requirements met. In the `models` tier (it verifies the real models)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from evaluation.local_server import free_port, http_status
from tests.support.paths import MODELS_DIR

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "scoring", "realtime", "webapp", "frontend", "evaluation")


def _tree_files() -> list[str]:
    """The files of the six packages in this tree (committed or not, ignored ones left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *PACKAGES],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(name for name in listed if (ROOT / name).is_file())


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the built wheel, the fresh venv it is installed into)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: building in the shared tree would leave build/ (and stale files) behind
    for name in [*_tree_files(), "pyproject.toml", "README.md"]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    dist = work / "dist"
    # The build backend's setuptools comes from the pip cache or PyPI; with neither, this venv's own.
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)])
    if built.returncode != 0:
        built = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(dist),
                str(source),
            ]
        )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("livecheck-*.whl")

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)]).check_returncode()
    site = Path(
        _run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    )
    (site / "locked-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = _run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    assert done.returncode == 0, done.stderr
    return wheel, venv


def test_the_wheel_holds_every_package_and_file(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in _tree_files() if name not in names]
    assert not missing, f"files of the tree not in the wheel: {missing}"
    assert "realtime/store/sqlite.py" in names


def test_the_installed_package_is_the_wheel_with_the_locked_versions(installed: tuple[Path, Path]) -> None:
    _, venv = installed
    python = str(venv / "bin/python")
    where = _run(
        [python, "-c", "import webapp, realtime.store.sqlite as s; print(webapp.__file__); print(s.__file__)"], cwd=venv
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(venv), path  # not this tree: a real, non-editable install
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    listed = _run(
        [
            python,
            "-c",
            "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'], d.version)",
        ]
    )
    seen = dict(line.rsplit(" ", 1) for line in listed.stdout.splitlines())
    required = _run([python, "-c", "import importlib.metadata as m; print('\\n'.join(m.requires('livecheck')))"])
    for requirement in required.stdout.splitlines():
        if "extra ==" in requirement:
            continue
        name = requirement.split(";")[0].split("[")[0]
        for mark in "<>=!~ ":
            name = name.split(mark)[0]
        key = name.lower().replace("_", "-")
        assert key in pins, f"{name} is required but not pinned in requirements.lock"
        versions = {v for n, v in seen.items() if n.lower().replace("_", "-") == key}
        assert versions == {pins[key]}, f"{name}: installed {versions}, locked {pins[key]}"
    checked = _run([python, "-m", "pip", "check"])
    assert "livecheck" not in checked.stdout, checked.stdout


def test_the_installed_commands_run(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = installed
    livecheck = str(venv / "bin/livecheck")
    env = {**os.environ, "LIVECHECK_MODELS": str(MODELS_DIR), "XDG_DATA_HOME": str(tmp_path), "GLOG_minloglevel": "2"}
    env.pop("PYTHONPATH", None)
    helped = _run([livecheck, "--help"], env=env, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "models" in helped.stdout
    verified = _run([livecheck, "models", "verify"], env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [livecheck, "serve", "--listen", f"127.0.0.1:{port}"], env=env, cwd=tmp_path, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 120
        while http_status(port, "/readyz", timeout_s=2.0) != 200:
            assert server.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        # Files read at run time: the widget's modules and string catalogs, the demo page's template.
        assert http_status(port, "/widget/static/widget/main.js") == 200
        assert http_status(port, "/widget/i18n/en.json") == 200
        assert http_status(port, "/embed.js") == 200
        assert http_status(port, "/") == 200, log.read_text(errors="replace")  # the demo page's template
    finally:
        server.terminate()
        server.wait(timeout=30)
