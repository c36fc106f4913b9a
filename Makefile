# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_CONTACTS ?= 1000000
BENCH_ARGS ?=

.PHONY: run test install services stop bench lint migrations-check soak

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

services: $(STAMP)
	$(PY) scripts/dev.py env

run: $(STAMP)
	$(PY) scripts/dev.py run

test: $(STAMP)
	$(PY) scripts/dev.py exec -- $(PY) -m pytest

stop:
	$(PY) scripts/dev.py stop

bench: $(STAMP)
	$(PY) scripts/dev.py exec -- $(PY) bench/run.py --contacts $(BENCH_CONTACTS) $(BENCH_ARGS)
