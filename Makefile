# The one place for the common commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests drive the Debian Chromium (never a downloaded one); CJK fonts so Chinese pages render and the
# demo and the tests can draw Chinese sample documents for the OCR to read.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
# The OCR engine's OpenCV needs the system's libGL and GLib.
LIBGL := /usr/lib/$(shell uname -m)-linux-gnu/libGL.so.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test bench bench-core run api worker scheduler events ocr stop lint typecheck clean db-upgrade

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Two commands started at once on a fresh machine (`make demo` beside `make test`) take turns: the second waits for
# the first's install and then finds the packages there.
$(CHROMIUM) $(CJK_FONT) $(LIBGL):
	$(SUDO) flock /tmp/claims-orchestrator-apt.lock sh -c '[ -e $(CHROMIUM) ] && [ -e $(CJK_FONT) ] && \
		[ -e $(LIBGL) ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o DPkg::Lock::Timeout=600 --no-install-recommends chromium fonts-noto-cjk libgl1 libglib2.0-0 >/dev/null; }'

## demo: embedded Temporal + a worker, sample claims down every path, a table of outcomes
demo: $(STAMP) $(CJK_FONT) $(LIBGL)
	@mkdir -p var
	$(BIN)/python starter.py db upgrade 2>>var/demo.log
	CLAIMS_DEV_ISSUER=true CLAIMS_SLA_PROFILE=$${CLAIMS_SLA_PROFILE:-demo} CLAIMS_HOTLINE=$${CLAIMS_HOTLINE:-400-000-0000} $(BIN)/python starter.py demo 2>>var/demo.log

## test: the whole suite (time-skipping server, dev server, SQLite and PostgreSQL)
test: $(STAMP) $(CHROMIUM) $(CJK_FONT) $(LIBGL)
	$(BIN)/python -m pytest

## bench: the claims against the bare Temporal engine (short; bench/engine_floor.py --full: long), the API against a bare
## start, and a surge of 1,000 claims through the API with workers added under load, on SQLite and PostgreSQL
bench: $(STAMP)
	$(BIN)/python bench/engine_floor.py
	$(BIN)/python bench/api_cost.py --claims 60
	$(BIN)/python bench/surge.py --claims 1000 --minutes 3 --databases sqlite,postgresql

## bench-core: the decision core's state machine over 100,000 random sequences
bench-core: $(STAMP)
	$(BIN)/python bench/core_sequences.py

## db-upgrade: apply the database migrations to DATABASE_URL (workers and the scheduler never create tables)
db-upgrade: $(STAMP)
	$(BIN)/python starter.py db upgrade

## run: the migrations, then a worker, the scheduler, the event relay and the HTTP API (CLAIMS_API_PORT, default 8000), against
## TEMPORAL_ADDRESS or the embedded server (started first, so the three processes share it)
run: $(STAMP)
	$(BIN)/python starter.py db upgrade
	$(BIN)/python starter.py server start
	export CLAIMS_TRACES_FILE=$${CLAIMS_TRACES_FILE-var/traces.jsonl} CLAIMS_DEV_ISSUER=$${CLAIMS_DEV_ISSUER-true}; \
	$(BIN)/python -m reporting.scheduler & scheduler=$$!; \
	$(BIN)/python -m api & api=$$!; \
	$(BIN)/python -m events & events=$$!; \
	trap 'kill $$scheduler $$api $$events 2>/dev/null' EXIT INT TERM; \
	CLAIMS_METRICS_ADDRESS=$${CLAIMS_METRICS_ADDRESS-127.0.0.1:9464} $(BIN)/python worker.py

## events: only the event relay (outbox to CLAIMS_EVENT_WEBHOOKS and CLAIMS_EVENT_BROKER_URL)
events: $(STAMP)
	$(BIN)/python -m events

## ocr: only an OCR worker (reads uploaded documents on CLAIMS_OCR_TASK_QUEUE; worker.py serves it too unless
## CLAIMS_OCR_IN_WORKER=false)
ocr: $(STAMP)
	$(BIN)/python -m ocr

## api: only the HTTP API
api: $(STAMP)
	$(BIN)/python -m api

## scheduler: only the scheduler (SLA digest, daily report, event-log checkpoints, history exports)
scheduler: $(STAMP)
	$(BIN)/python -m reporting.scheduler

## stop: stop the embedded Temporal server that demo/run started
stop: $(STAMP)
	$(BIN)/python -c "from config.settings import get_settings; from config.temporal import stop_embedded_server; from demo.services import stop_background; s = get_settings(); print('stopped', *stop_background(s), 'and the embedded server' if stop_embedded_server(s) else '')"

## lint: ruff, mypy (strict) and the import contracts of pyproject.toml (import-linter)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
