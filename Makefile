# Two entry points for a new user on a fresh machine: `make run` and `make test`.
# Both install what they need into .venv first (PyPI only; `make test` also installs Debian's chromium, and
# redis-server and nginx for the cluster tests, which start their own on loopback ports).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
# Models: ../shared/models when it exists (CI), else the per-user directory (~/.local/share/livecheck/models).
export LIVECHECK_MODELS ?= $(if $(wildcard $(SHARED)/models),$(SHARED)/models)
export LIVECHECK_MEDIA ?= $(SHARED)/media
PYTEST_ARGS ?=
PORT ?= 8000
# `make run` listens on 127.0.0.1 only: the keyless demo page (on by default) never faces a network.

.PHONY: install install-test run test check lock chromium servers js bench

# requirements.lock pins every package (as pip constraints): the same versions on every machine.
$(BIN)/livecheck: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	@touch $@

install: $(BIN)/livecheck

$(BIN)/mypy: $(BIN)/livecheck
	$(BIN)/pip install -q -c requirements.lock -e '.[test,check]'
	@touch $@

# After changing dependencies: installs what pyproject.toml asks for (no constraints) and pins the result.
lock:
	$(BIN)/pip install -q --upgrade -e '.[test,check]'
	{ sed -n '1,2p' requirements.lock; $(BIN)/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

# The inner loop, run first by .ci/run: lint, types, and the `unit` tier (no models, no network, no root; ~20 s).
# Types twice: the packages strict (pyproject.toml), the test code (tests/ bench/ e2e/) with its bodies checked.
check: $(BIN)/mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --config-file mypy-tests.toml
	$(BIN)/python -m pytest -q -p no:cacheprovider -m 'unit and not slow' -W error::DeprecationWarning -W error::PendingDeprecationWarning

# No model file found at all (exit 3): download them once from their upstream sources, pinned by sha256.
run: install
	@$(BIN)/livecheck models verify || { test $$? -eq 3 && $(BIN)/livecheck models download; }
	$(BIN)/livecheck serve --listen 127.0.0.1:$(PORT)

# Debian packages need root to install: as another user, `make test` names the command to run once instead.
ROOT := $(filter 0,$(shell id -u))
apt_install = $(if $(ROOT),apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null,\
	echo "make test needs Debian packages; install them once as root: sudo apt-get install $(1)" >&2; false)

chromium:
	@command -v chromium >/dev/null 2>&1 || ($(call apt_install,chromium))

# Debian's redis-server and nginx: tests start their own instances on free loopback ports (tests/support/servers.py).
servers:
	@command -v redis-server >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 || ($(call apt_install,--no-install-recommends redis-server nginx))

# The whole suite runs in a network namespace that has only `lo`: WebRTC and browser traffic stays on loopback.
# As root a plain network namespace; as any other user a user namespace too (`unshare -rn`, no root needed).
# clients/js: npm ci from the npm registry into clients/js/node_modules (not committed), then its node tests, tsc and
# the embed.js identity check (~15 s); it also brings axe-core for the e2e accessibility checks. Without npm: a note.
js:
	@if command -v npm >/dev/null 2>&1; then cd clients/js && npm ci --no-audit --no-fund --silent && npm run -s check; \
	else echo "make test: npm not found: clients/js's tests and the e2e axe checks are skipped" >&2; fi

test: install chromium servers js
	$(BIN)/livecheck models verify
	unshare $(if $(ROOT),-n,-rn) sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)'

bench: install
	$(BIN)/python -m bench.frame_pipeline
