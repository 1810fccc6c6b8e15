# Rapport: `make demo` runs the demo practice, `make test` runs every check on both databases.
VENV ?= .venv
PYTHON_FOR_VENV := $(shell scripts/find-python)
BIN := $(VENV)/bin
# The scaled-out configuration tested by `make test` (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rapport
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test test-sqlite test-postgres lint system-deps services bench clean messages

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
	bench/call_recovery.py bench/outcomes_page.py bench/outcomes_service.py

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

# The words to translate (maintainers; needs GNU gettext, see scripts/install-system-deps): each
# app's templates and Python into rapport/<app>/locale/<language>/LC_MESSAGES/django.po, every
# script's gettext() calls into rapport/core/locale/<language>/LC_MESSAGES/djangojs.po (the
# JavaScript catalog), then every catalog compiled to the .mo files that are committed and shipped.
# tests/test_translations.py fails while a shipped language misses a word.
TRANSLATED := es
APPS := $(patsubst rapport/%/apps.py,%,$(wildcard rapport/*/apps.py))
SCRIPTS := $(sort $(wildcard rapport/*/static/*/*.js))
DJANGO_ADMIN := env DJANGO_SETTINGS_MODULE=rapport.settings RAPPORT_DATA_DIR=$(CURDIR)/var $(abspath $(BIN))/django-admin
messages: $(VENV)/.installed
	@for app in $(APPS); do \
		(cd rapport/$$app && mkdir -p locale && \
		 $(DJANGO_ADMIN) makemessages $(addprefix --locale=,$(TRANSLATED)) --no-obsolete --add-location=file) || exit 1; \
	done
	xgettext --language=JavaScript --from-code=UTF-8 --keyword=gettext --keyword=ngettext:1,2 \
		--keyword=pgettext:1c,2 --add-location=file --package-name=Rapport \
		--output=rapport/core/locale/djangojs.pot $(SCRIPTS)
	@for lang in $(TRANSLATED); do \
		po=rapport/core/locale/$$lang/LC_MESSAGES/djangojs.po; mkdir -p $$(dirname $$po); \
		if [ -f $$po ]; then msgmerge --quiet --update --backup=none $$po rapport/core/locale/djangojs.pot; \
		else msginit --no-translator --locale=$$lang --input=rapport/core/locale/djangojs.pot --output=$$po; fi; \
	done
	rm rapport/core/locale/djangojs.pot
	cd rapport && $(DJANGO_ADMIN) compilemessages

clean:
	rm -rf $(VENV) node_modules var
