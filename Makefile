# Two commands: `make demo` and `make test`. Both bootstrap .venv on their own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint imports typecheck pytest postgres bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The versions the tests ran with (requirements-dev.lock, written by `make lock`) first, then
# the project itself; a dependency added to pyproject.toml since the lock comes in unpinned.
$(STAMP): pyproject.toml $(wildcard requirements-dev.lock) | $(BIN)/python
	if [ -f requirements-dev.lock ]; then $(BIN)/python -m pip install --quiet -r requirements-dev.lock; fi
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lock: $(STAMP)
	$(BIN)/python scripts/lock.py

demo: $(STAMP)
	$(BIN)/followup demo

test: $(STAMP) lint imports typecheck postgres pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# DESIGN.md's dependency rule as import-linter contracts (pyproject.toml).
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

postgres:
	@scripts/ensure-postgres.sh

pytest: $(STAMP)
	FOLLOWUP_TEST_POSTGRES=$${FOLLOWUP_TEST_POSTGRES:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres} \
	  $(BIN)/pytest

bench: $(STAMP)
	for script in bench/[!_]*.py; do $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
