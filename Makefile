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

## The main job: the demo on the embedded defaults (SQLite, simulator) served on 127.0.0.1:8000 with its
## logins printed, until Ctrl-C. `waihu campaign demo` is the headless run that ends with a summary.
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

## Benchmarks (numbers go to docs/benchmarks.md; never run by the tests)
bench: $(STAMP)
	$(BIN)/python bench/flows.py
	$(BIN)/python bench/lead_import.py
	$(BIN)/python bench/asterisk_load.py --concurrent 200 --calls 400 --rate 50 --talk 20
	for policy in progressive predictive oracle; do \
	  $(BIN)/python bench/pacing.py --policy $$policy --agents 20 --p-live 0.33 --answer-delay 5 25 \
	    --talk-mean 90 --talk-cv 0.8 --wrap 10 --hours 4 --seed 1; \
	done

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
