# The two commands of the README: `make demo` and `make test`. Both build .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit venv clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## The main job: a demo on the embedded defaults (SQLite, simulator). Until the dialer lands it rehearses a script.
demo: $(STAMP)
	$(BIN)/waihu db upgrade
	$(BIN)/waihu flows check flows/scripts/*.yaml
	$(BIN)/waihu demo

## The whole test suite: lint, types, then every test (PostgreSQL included).
test: $(STAMP)
	bash scripts/ensure-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/waihu flows check --walk flows/scripts/*.yaml
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/flows.py

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
