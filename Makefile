# Two commands: `make demo` and `make test`. Both bootstrap .venv on their own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint imports typecheck pytest postgres bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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
