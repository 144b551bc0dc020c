# Everything a fresh machine needs is installed by these targets.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@if [ -x scripts/setup-extra.sh ]; then scripts/setup-extra.sh; fi
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bzk devnet

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check bitcoinzk tests benchmarks
	$(VENV)/bin/ruff format --check bitcoinzk tests benchmarks
	$(VENV)/bin/mypy bitcoinzk tests

clean:
	rm -rf $(VENV) build *.egg-info
