# One command each for the main job and the tests; both do their own set-up.
#   make demo   - creates .venv, installs the library, replays the sample data
#   make test   - creates .venv, installs everything the tests need, runs them all
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench compare services clean

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[all,dev]'
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cryptoalerts demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks adapters

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-enable -p no:cacheprovider $(PYTEST_ARGS)

compare: $(STAMP)
	$(PY) benchmarks/compare.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
