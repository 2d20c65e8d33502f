# Remote TUK — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 5000
SOCKETIO_JS := remote_tuk/static/vendor/socket.io.min.js
SOCKETIO_CLIENT_VERSION := 4.8.1
LIGHTHOUSE := tools/a11y/node_modules/.bin/lighthouse
# Unit and functional tests run in parallel workers (each has its own databases and var directories; they wait on
# PostgreSQL and the disk more than on the CPU), beside one process with the stack's tests and one with the other
# integration tests and the browser tests that check pages; then the browser tests with fps, bandwidth and latency
# thresholds run alone (.ci/test_phases.sh).
TEST_WORKERS ?= 3

.PHONY: run test install install-dev system-deps lint audit migrate seed bench clean

## run: set up .venv, migrate, seed the demo data, serve on $(HOST):$(PORT)
run: install $(SOCKETIO_JS)
	$(PY) -m remote_tuk migrate
	$(PY) -m remote_tuk seed-demo
	RTUK_HOST=$(HOST) RTUK_PORT=$(PORT) $(PY) -m remote_tuk serve --server gunicorn

## test: install what the tests need and run lint, the import-direction check, the dependency audit and the suite
test: install-dev system-deps $(SOCKETIO_JS) $(LIGHTHOUSE)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) .ci/audit_deps.py
	PY=$(PY) TEST_WORKERS=$(TEST_WORKERS) bash .ci/test_phases.sh

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(VENV)/bin/activate
	$(PIP) install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## system-deps: Debian packages the tests use (installed only when missing; needs root)
system-deps:
	@bash .ci/system-deps.sh

# The Socket.IO browser client comes from the npm registry (no CDN at run time).
$(SOCKETIO_JS):
	@mkdir -p $(dir $@)
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent socket.io-client@$(SOCKETIO_CLIENT_VERSION) >/dev/null \
	  && tar -xzf socket.io-client-$(SOCKETIO_CLIENT_VERSION).tgz && cp package/dist/socket.io.min.js $(CURDIR)/$@ \
	  && rm -rf $$tmp && echo "socket.io client $(SOCKETIO_CLIENT_VERSION) -> $@"

# Lighthouse (npm, pinned by tools/a11y/package-lock.json) for the candidate pages' accessibility test.
$(LIGHTHOUSE): tools/a11y/package.json tools/a11y/package-lock.json
	cd tools/a11y && npm ci --silent --no-audit --no-fund
	@touch $@

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

## audit: every requirement pinned, and pip-audit against OSV or PyPI when one answers (RTUK_AUDIT_STRICT=1: must)
audit: install-dev
	$(PY) .ci/audit_deps.py

migrate: install
	$(PY) -m remote_tuk migrate

bench: install-dev
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

.PHONY: stack stack-stop
STACK_DIR ?= var/stack
STACK_BASE_PORT ?= 8440
STACK_HOST ?= localhost
STACK_LISTEN ?= 127.0.0.1

## stack: the production-like stack on this machine (PostgreSQL, Redis, S3, coturn, nginx + local CA, 2 app nodes)
stack: install-dev $(SOCKETIO_JS)
	@bash .ci/system-deps.sh
	$(PY) deploy/stack.py up --dir $(STACK_DIR) --base-port $(STACK_BASE_PORT) --host $(STACK_HOST) \
	  --listen $(STACK_LISTEN)

## stack-stop: stop every process of the stack (data, secrets and certificates stay in $(STACK_DIR))
stack-stop:
	$(PY) deploy/stack.py down --dir $(STACK_DIR)
