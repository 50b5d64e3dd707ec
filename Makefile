# The two commands a user types: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck check bench clean

$(STAMP): pyproject.toml Makefile $(wildcard tests/plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(foreach p,$(wildcard tests/plugins/*/pyproject.toml),-e $(dir $(p)))
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python examples/layer_demo.py

PEERS_STAMP := $(VENV)/.peers-stamp
$(PEERS_STAMP): scripts/install-peers.sh $(wildcard scripts/peers/*.sh) | $(STAMP)
	bash scripts/install-peers.sh
	touch $(PEERS_STAMP)

test: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/layer.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
