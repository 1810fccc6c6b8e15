# Rapport: `make demo` runs the demo practice, `make test` runs every check on both databases.
VENV ?= .venv
PYTHON_FOR_VENV := $(shell scripts/find-python)
BIN := $(VENV)/bin
# The scaled-out configuration tested by `make test` (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rapport
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test test-sqlite test-postgres lint system-deps services bench clean

demo: $(VENV)/.installed
	$(BIN)/rapport demo

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "No Python >= 3.12 found (see above)."; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

system-deps:
	scripts/install-system-deps

services:
	scripts/ensure-services

lint: $(VENV)/.installed
	$(BIN)/ruff check rapport tests bench
	$(BIN)/ruff format --check rapport tests bench
	$(BIN)/mypy rapport tests bench
	$(BIN)/lint-imports

test-sqlite: $(VENV)/.installed node_modules/.installed
	env -u DATABASE_URL -u REDIS_URL RAPPORT_DATA_DIR=$(CURDIR)/var/test-sqlite $(BIN)/pytest

test-postgres: $(VENV)/.installed node_modules/.installed
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		RAPPORT_DATA_DIR=$(CURDIR)/var/test-postgres $(BIN)/pytest

test: system-deps services lint test-sqlite test-postgres

BENCHMARKS := bench/page_weight.py bench/open_slots.py bench/booking_contention.py \
	bench/idle_sockets.py bench/call_setup.py bench/progress_page.py \
	bench/message_delivery.py bench/record_timeline.py bench/practice_scale.py \
	bench/call_recovery.py

# Every benchmark on SQLite, then on PostgreSQL (each makes and drops a database of its own);
# all run even when one is over budget, and the target fails if any was.
bench: $(VENV)/.installed
	@status=0; for script in $(BENCHMARKS); do \
		echo "== $$script (SQLite)"; \
		env -u DATABASE_URL -u REDIS_URL $(BIN)/python $$script || status=1; \
		echo "== $$script (PostgreSQL)"; \
		DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
			$(BIN)/python $$script || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) node_modules var
