"""/openapi.json is good enough to generate a client in another language: openapi-typescript (from the npm
registry, installed into clients/js/node_modules by `make test`'s js step) turns it into TypeScript types, and an
integrator's code written against them type-checks with tsc, while misuse of the session API does not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from webapp.openapi import document

pytestmark = pytest.mark.unit

BIN = ROOT / "clients" / "js" / "node_modules" / ".bin"

USE = """import type { paths, components } from './api';

type Create = paths['/v1/sessions']['post'];
type Created = Create['responses']['201']['content']['application/json'];
type Read = paths['/v1/sessions/{session_id}']['get']['responses']['200']['content']['application/json'];

const options: NonNullable<Create['requestBody']>['content']['application/json'] = {
  actions: ['turn_left', 'smile'], allowed_origins: ['https://shop.example'], return_url: 'https://shop.example/ok',
};
function widgetUrl(created: Created): string {
  for (const warning of created.warnings ?? []) console.log(warning.code === 'no_allowed_origins', warning.message);
  return created.widget_url;
}
function decided(session: Read): boolean {
  return session.status === 'SUCCEEDED' || session.status === 'FAILED';
}
"""
MISUSE = """import type { paths } from './api';
type Read = paths['/v1/sessions/{session_id}']['get']['responses']['200']['content']['application/json'];
const wrong: Read['status'] = 'PASSED';
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (BIN / "openapi-typescript").exists() or not (BIN / "tsc").exists() or shutil.which("node") is None:
        pytest.skip("openapi-typescript/tsc not installed: `make js` (npm ci in clients/js)")
    out = tmp_path_factory.mktemp("openapi-ts")
    (out / "openapi.json").write_text(json.dumps(document()), encoding="utf-8")
    run = subprocess.run(
        [str(BIN / "openapi-typescript"), str(out / "openapi.json"), "-o", str(out / "api.ts")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return out


def tsc(directory: Path, name: str) -> subprocess.CompletedProcess[str]:
    args = ["--noEmit", "--strict", "--target", "ES2020", "--module", "ES2020", "--moduleResolution", "bundler"]
    return subprocess.run(
        [str(BIN / "tsc"), *args, "--lib", "ES2020,DOM", str(directory / name)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_generated_types_serve_an_integrators_code(generated: Path) -> None:
    (generated / "use.ts").write_text(USE + "void options; void widgetUrl; void decided;\n", encoding="utf-8")
    checked = tsc(generated, "use.ts")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_and_catch_a_status_that_does_not_exist(generated: Path) -> None:
    (generated / "misuse.ts").write_text(MISUSE + "void wrong;\n", encoding="utf-8")
    checked = tsc(generated, "misuse.ts")
    assert checked.returncode != 0 and "PASSED" in checked.stdout, checked.stdout
