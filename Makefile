# The two commands a user types: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck check bench bench-web bench-broadcast bench-irc bench-slack bench-email clean

# The test plugins (tests/plugins/*) are never installed here: the tests load them on
# their own (tests/plugin_path.py), so `make run` shows only what ships. The uninstall
# cleans an environment made when they were installed.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip uninstall --quiet --yes telephonist-linechat 2>/dev/null || true
	touch $(STAMP)

# The multichat example (examples/multichat), all-in-one on the in-memory layer: every
# interface that needs no outside service (HTTP/WebSocket, email) in one process.
# RUN_ARGS go to runserver (e.g. RUN_ARGS=0:8080). `exec`: the SIGTERM make passes on
# reaches runserver, not a shell that would die and leave it running.
run: $(STAMP)
	@cd examples/multichat && $(abspath $(BIN))/python manage.py migrate --noinput -v 0
	@cd examples/multichat && $(abspath $(BIN))/python manage.py bridges
	cd examples/multichat && exec $(abspath $(BIN))/python manage.py runserver $(RUN_ARGS)

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

# HTTP and WebSocket against Daphne and uvicorn (bench/http.py, bench/ws.py): needs the
# bench extra (uvicorn, py-spy) and wrk (scripts/peers/bench.sh). BENCH_ARGS go to both.
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench-web: $(STAMP) $(PEERS_STAMP) $(BENCH_STAMP)
	$(BIN)/python bench/http.py $(BENCH_ARGS)
	$(BIN)/python bench/ws.py $(BENCH_ARGS)

# One message to 1,000 and 5,000 open WebSockets, against Daphne and uvicorn with Channels 4
# on each layer (bench/broadcast.py): needs the bench extra (uvicorn). BENCH_ARGS go to it.
bench-broadcast: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python bench/broadcast.py $(BENCH_ARGS)

# IRC against Sopel 8 and a bare irc-library bot on a private ngircd (bench/irc.py): needs
# the bench extra (Sopel, py-spy) and ngircd (scripts/peers/irc.sh). BENCH_ARGS go to it.
bench-irc: $(STAMP) $(PEERS_STAMP) $(BENCH_STAMP)
	$(BIN)/python bench/irc.py $(BENCH_ARGS)

# Slack Socket Mode against Slack Bolt (bench/slack.py): needs the bench extra (slack-bolt).
bench-slack: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python bench/slack.py $(BENCH_ARGS)

# SMTP against aiosmtpd's bare counting sink (bench/email.py); aiosmtpd is a core
# dependency, so the plain install is enough. BENCH_ARGS go to it.
bench-email: $(STAMP)
	$(BIN)/python bench/email.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
