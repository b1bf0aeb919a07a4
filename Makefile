# The two commands of the README: `make run` and `make test`. Each sets up
# what it needs on a fresh machine (virtualenv, packages, database, frontend).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup run test lint typecheck schema-check schema-contract pytest schema clean frontend \
	frontend-test lock

# Installed at the versions `constraints.txt` pins (every package, each release tested
# here), so a fresh machine, CI included, gets what was tested and not whatever the
# ranges in pyproject.toml admit that day.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# Pin anew: the newest releases pyproject.toml admits, resolved in a clean virtualenv.
# Run the tests on them before committing the file.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	( echo "# Every package at the release tested with Heatshield; \`make lock\` pins anew."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable ) > constraints.txt
	rm -rf .lock-venv

# Byte-compiled as pip compiles an installed wheel: with PYTHONDONTWRITEBYTECODE set (or
# before a first run writes them) every start would compile the project's sources again.
# Only changed files are compiled; a stale .pyc is ignored by Python, never run.
setup: $(STAMP)
	@$(BIN)/python -m compileall -q api connectors

# The dashboard: npm ci when the lock file changed, codegen + build when any
# source (or the schema its operations are typed from) is newer than the build.
FRONTEND_SOURCES := $(shell find frontend/src -type f -not -path 'frontend/src/gql/*' 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/codegen.ts frontend/tsconfig.json \
	frontend/package-lock.json schema.graphql

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

frontend: frontend/dist/index.html

frontend-test: frontend/node_modules/.package-lock.json
	cd frontend && npm test

run: setup frontend
	$(BIN)/heatshield demo --host $(HOST) --port $(PORT)

test: setup lint typecheck schema-check schema-contract frontend frontend-test pytest

lint:
	$(BIN)/ruff check api connectors tests bench
	$(BIN)/lint-imports --no-cache

typecheck:
	$(BIN)/mypy

schema-check:
	@$(BIN)/heatshield schema | diff -u schema.graphql - \
	  || (echo "schema.graphql drifted: run 'make schema'" && exit 1)

# schema.graphql against the last released schema: a breaking change not listed in
# schema/changes.toml with its deprecation period fails (api/schema_contract.py).
schema-contract:
	$(BIN)/heatshield schema-contract

pytest:
	$(BIN)/pytest

schema: setup
	$(BIN)/heatshield schema > schema.graphql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
