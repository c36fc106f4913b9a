# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_CONTACTS ?= 1000000
BENCH_ARGS ?=

.PHONY: run test install services stop info bench lint migrations-check soak audit fuzz

# make run, test and bench are development commands: they install the runtime and the development sets
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

services: $(STAMP)
	$(PY) scripts/dev.py env

run: $(STAMP)
	$(PY) scripts/dev.py run

# the database tests that hold state across transactions (imports, bulk jobs, idempotency, sending), again with
# DATABASE_URL on a PgBouncer in transaction mode (docs/scaling.md)
PGBOUNCER_TESTS ?= tests/scaling/test_pgbouncer.py dataquality/tests/test_import_writers.py dataquality/tests/test_imports.py \
	contacts/tests/test_list.py contacts/tests/test_bulk_actions.py planning/tests/test_segments.py \
	tests/test_idempotency.py communications/tests/test_sending.py

test: $(STAMP)
	$(PY) scripts/dev.py exec -- $(PY) -m pytest
	TEST_PGBOUNCER=1 $(PY) scripts/dev.py exec -- $(PY) -m pytest $(PGBOUNCER_TESTS) -n 0 --no-cov --reuse-db

stop:
	$(PY) scripts/dev.py stop

# the URLs and the admin password `make run` printed
info:
	@$(PY) scripts/dev.py info

bench: $(STAMP)
	$(PY) scripts/dev.py exec -- $(PY) bench/run.py --contacts $(BENCH_CONTACTS) $(BENCH_ARGS)

SOAK_SECONDS ?= 600
soak: $(STAMP)
	SOAK_SECONDS=$(SOAK_SECONDS) $(PY) scripts/dev.py exec -- $(PY) bench/soak.py

# the API fuzzing of `make test`, with many more examples per operation
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) scripts/dev.py exec -- $(PY) -m pytest tests/test_fuzz.py -q --no-cov -p no:logging

# needs the PyPI advisory API (not reachable from every sandbox)
audit: $(STAMP)
	$(PY) -m pip install --quiet pip-audit && $(PY) -m pip_audit -r requirements.txt --no-deps --disable-pip
