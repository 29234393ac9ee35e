# One command each for the main job and the tests; both do their own set-up.
#   make demo   - creates .venv, installs the library, replays the sample data
#   make test   - creates .venv, installs everything the tests need, runs them all
#   make native - .venv-native: the same, with the matching core compiled by mypyc
#                 (CRYPTOALERTS_COMPILE=1, see hatch_build.py); `make w1-native` measures it
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NATIVE := .venv-native

.PHONY: demo test lint typecheck pytest bench compare native w1 w1-native clean

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
	$(VENV)/bin/ruff check src tests benchmarks adapters hatch_build.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-enable -p no:cacheprovider $(PYTEST_ARGS)

compare: $(STAMP)
	$(PY) benchmarks/compare.py

# Not a pip -e install: the compiled modules are built from the sources as they are now.
$(NATIVE)/.installed: pyproject.toml hatch_build.py $(wildcard src/cryptoalerts/*.py)
	$(PYTHON) -m venv $(NATIVE)
	$(NATIVE)/bin/python -m pip install -q -U pip hatchling 'mypy>=1.11' setuptools
	$(NATIVE)/bin/python -m pip install -q '.[all,dev]'
	CRYPTOALERTS_COMPILE=1 $(NATIVE)/bin/python -m pip install -q --no-deps --no-build-isolation --force-reinstall .
	$(NATIVE)/bin/python -c 'import cryptoalerts; assert cryptoalerts.COMPILED, "not compiled"'
	@touch $@

native: $(NATIVE)/.installed

w1: $(STAMP)
	$(PY) benchmarks/w1.py

w1-native: $(NATIVE)/.installed
	$(NATIVE)/bin/python benchmarks/w1.py

clean:
	rm -rf $(VENV) $(NATIVE) node_modules .pytest_cache .mypy_cache .ruff_cache
