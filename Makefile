# The two commands of the README: `make run` and `make test`. Each sets up
# what it needs on a fresh machine (virtualenv, packages, database, frontend).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup run test lint typecheck schema-check pytest schema clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

run: setup
	$(BIN)/heatshield demo --host $(HOST) --port $(PORT)

test: setup lint typecheck schema-check pytest

lint:
	$(BIN)/ruff check api connectors tests bench

typecheck:
	$(BIN)/mypy

schema-check:
	@$(BIN)/heatshield schema | diff -u schema.graphql - \
	  || (echo "schema.graphql drifted: run 'make schema'" && exit 1)

pytest:
	$(BIN)/pytest

schema: setup
	$(BIN)/heatshield schema > schema.graphql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
